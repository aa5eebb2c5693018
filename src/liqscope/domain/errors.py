"""Errors a user can cause. The CLI prints them as one line and exits with code 2;
the API turns them into a 4xx."""


class LiqscopeError(Exception):
    """Base class of every error liqscope raises on purpose."""


class InputError(LiqscopeError):
    """Bad input from the user: a parameter, a file, a symbol, a range."""


class VenueError(LiqscopeError):
    """A venue could not be reached or answered with something unusable."""


class StoreError(LiqscopeError):
    """The store could not be written or read (disk full, locked, gone, server down).

    Nothing of the failed write is stored; the message names the cause in one line."""
