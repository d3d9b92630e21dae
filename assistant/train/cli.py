def register(sub):
    """Filled in by the train stage."""
