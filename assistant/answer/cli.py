def register(sub):
    """Filled in by the answer stage."""
