"""One venue's REST jobs, run one at a time with a pause between them.

Every REST call of the collector (backfill, polling) goes through the venue's worker, so a
ban (HTTP 418, :class:`~liqscope.venues.base.VenueBanned`) raised by any job pauses all of
them; 429s are retried and logged by the REST client itself.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from liqscope.domain.errors import InputError, StoreError, VenueError
from liqscope.venues.base import RestClient, VenueAdapter, VenueBanned

from .config import CollectorConfig, CollectorStats

__all__ = ["Job", "RestWorker", "offers"]

log = logging.getLogger("liqscope.collect")

Job = Callable[[RestClient], Awaitable[None]]


def offers(client: RestClient, method: str) -> bool:
    """Whether the venue's REST client implements ``method`` (declared by overriding it)."""
    return getattr(type(client), method) is not getattr(RestClient, method)


class RestWorker:
    """Runs one venue's REST jobs one at a time, paced; pauses them all after a ban."""

    def __init__(
        self,
        venue_name: str,
        adapter: VenueAdapter,
        config: CollectorConfig,
        stats: CollectorStats,
    ) -> None:
        self.venue_name = venue_name
        self.adapter = adapter
        self.config = config
        self.stats = stats
        self.jobs: asyncio.Queue[Job] = asyncio.Queue()
        self.busy = False
        self.paused_until = 0.0  # loop time before which no request is sent
        self.client: RestClient | None = None

    def submit(self, job: Job) -> None:
        self.jobs.put_nowait(job)

    def idle(self) -> bool:
        return not self.busy and self.jobs.empty()

    def banned(self) -> bool:
        return self.paused_until > asyncio.get_running_loop().time()

    async def run(self) -> None:
        cfg = self.config
        loop = asyncio.get_running_loop()
        last = -1e9
        async with self.adapter.rest() as client:
            self.client = client
            while True:
                job = await self.jobs.get()
                self.busy = True
                try:
                    wait = max(last + cfg.rest_min_interval_s, self.paused_until) - loop.time()
                    if wait > 0:
                        await asyncio.sleep(wait)
                    await job(client)
                except VenueBanned as exc:
                    self.stats.rest_errors += 1
                    self.stats.rest_bans += 1
                    pause = max(cfg.ban_pause_s, exc.retry_after_s or 0.0)
                    self.paused_until = loop.time() + pause
                    log.error(
                        "%s: REST banned by the venue (%s); pausing REST for %.0f s",
                        self.venue_name,
                        exc,
                        pause,
                    )
                except (VenueError, InputError) as exc:
                    self.stats.rest_errors += 1
                    log.warning("%s: REST: %s", self.venue_name, exc)
                except StoreError as exc:  # the writer reports and times out store failures
                    self.stats.store_errors += 1
                    log.warning("%s: REST rows not stored: %s", self.venue_name, exc)
                except Exception as exc:  # a bug in one job must not stop the worker
                    self.stats.rest_errors += 1
                    log.exception("%s: REST job failed: %s", self.venue_name, exc)
                finally:
                    last = loop.time()
                    self.busy = False
                    self.jobs.task_done()
