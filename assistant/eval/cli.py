def register(sub):
    """Filled in by the eval stage."""
