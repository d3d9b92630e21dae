def register(sub):
    """Filled in by the webui stage."""
