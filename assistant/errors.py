"""Errors shared by the library and the command line."""


class UserError(Exception):
    """An error caused by the user's input (a bad file, an unknown law): printed without a traceback."""
