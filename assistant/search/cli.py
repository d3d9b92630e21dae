def register(sub):
    """Filled in by the search stage."""
