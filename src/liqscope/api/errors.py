"""The one error a request can cause: a status, the parameter at fault and a message."""

from __future__ import annotations

__all__ = ["ApiError"]


class ApiError(Exception):
    """A problem with a request: ``status`` 422 names ``param``; 404 for unknown things;
    429 when the server is busy."""

    def __init__(self, status: int, param: str | None, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.param = param
        self.message = message
