"""domain.aio: the app-lifetime task (``liqscope serve --collect``) and WebSocket text frames."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from functools import partial
from typing import Any

from liqscope.domain.aio import AppTask, text_frames


def test_app_task_runs_until_stopped_then_closes_in_order() -> None:
    seen: list[str] = []

    async def work(stop: asyncio.Event) -> None:
        seen.append("started")
        await stop.wait()
        seen.append("stopped")

    async def aclose() -> None:
        seen.append("async closer")

    async def main() -> None:
        task = AppTask(timeout_s=5)
        task.start(work(task.stop_event), lambda: seen.append("closer"), aclose)
        await asyncio.sleep(0)
        assert seen == ["started"]
        await task.stop(object())

    asyncio.run(main())
    assert seen == ["started", "stopped", "closer", "async closer"]


def test_app_task_stop_before_start_and_a_task_that_fails_or_hangs() -> None:
    closed: list[str] = []

    async def fails(stop: asyncio.Event) -> None:
        raise RuntimeError("boom")

    async def hangs(stop: asyncio.Event) -> None:
        await asyncio.Event().wait()  # never told

    async def main() -> None:
        await AppTask(timeout_s=1).stop()  # nothing started: nothing to do
        for work in (fails, hangs):
            task = AppTask(timeout_s=0.05)
            task.start(work(task.stop_event), partial(closed.append, work.__name__))
            await task.stop()

    asyncio.run(main())
    assert closed == ["fails", "hangs"]  # closed even so


def _receiver(messages: list[Mapping[str, Any]]) -> Any:
    queue = list(messages)

    async def receive() -> Mapping[str, Any]:
        if not queue:
            raise RuntimeError('Cannot call "receive" once a disconnect message has been received.')
        return queue.pop(0)

    return receive


def _texts(messages: list[Mapping[str, Any]], binary: bool) -> list[str]:
    async def main() -> list[str]:
        return [t async for t in text_frames(_receiver(messages), binary=binary)]

    return asyncio.run(main())


def test_text_frames_until_disconnect() -> None:
    frames: list[Mapping[str, Any]] = [
        {"type": "websocket.receive", "text": "a"},
        {"type": "websocket.receive", "bytes": "é".encode()},
        {"type": "websocket.receive", "text": "b"},
        {"type": "websocket.disconnect", "code": 1000},
        {"type": "websocket.receive", "text": "after"},
    ]
    assert _texts(frames, binary=False) == ["a", "b"]
    assert _texts(frames, binary=True) == ["a", "é", "b"]
    assert _texts(frames[:1], binary=False) == ["a"]  # receive raising ends it too
