"""asyncio helpers the applications share: a task that runs for an app's life, and the text
frames an ASGI WebSocket receives. No framework import: they work on what the ASGI servers
(the API, the simulated exchanges) hand over."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping
from typing import Any

__all__ = ["AppTask", "text_frames"]


class AppTask:
    """A coroutine run from an app's startup hook until its shutdown hook.

    The startup hook calls :meth:`start` with a coroutine that ends once :attr:`stop_event` is
    set; :meth:`stop` (the shutdown hook) sets it, gives the task ``timeout_s`` to end (what
    it raises then is dropped: the app is stopping) and runs the closers given to ``start``,
    awaiting those that return an awaitable. ``stop`` before ``start`` does nothing.
    """

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self.stop_event = asyncio.Event()
        self._task: asyncio.Task[object] | None = None
        self._closers: tuple[Callable[[], object], ...] = ()

    def start(self, work: Coroutine[Any, Any, object], *closers: Callable[[], object]) -> None:
        self._task = asyncio.create_task(work)
        self._closers = closers

    async def stop(self, _app: object = None) -> None:
        if self._task is None:
            return
        self.stop_event.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._task, self.timeout_s)
        for close in self._closers:
            result = close()
            if inspect.isawaitable(result):
                await result


async def text_frames(
    receive: Callable[[], Awaitable[Mapping[str, Any]]], *, binary: bool = False
) -> AsyncIterator[str]:
    """The text of each frame ``receive`` (an accepted WebSocket's ``receive``) gets, until
    the client disconnects; binary frames are decoded as UTF-8 when ``binary``, else skipped."""
    while True:
        try:
            message = await receive()
        except RuntimeError:  # received after the disconnect
            return
        if message["type"] == "websocket.disconnect":
            return
        text = message.get("text")
        if text is None and binary:
            text = (message.get("bytes") or b"").decode("utf-8", "replace")
        if text is not None:
            yield text
