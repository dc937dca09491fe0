"""Work that overlaps the accelerator: image encoding and writing run on worker threads while
the generator makes the next batch.

PNG encoding (zlib) and file writes release the GIL, so a few threads keep up with a GPU that
would otherwise wait for them. At most `limit` jobs are in flight: a generator faster than its
writers blocks on `submit` instead of piling images up in memory.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable, TypeVar

T = TypeVar("T")


class BackgroundWriter:
    """A bounded pool of writer threads. Use as a context manager; results keep submit order
    because callers keep the futures in order."""

    def __init__(self, threads: int = 4, limit: int | None = None) -> None:
        self.threads = max(1, threads)
        self._slots = threading.BoundedSemaphore(limit or 4 * self.threads)
        self._pool = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="dataigm-writer")

    def submit(self, fn: Callable[..., T], *args: Any) -> "Future[T]":
        self._slots.acquire()  # blocks while `limit` jobs are still running or queued
        try:
            future = self._pool.submit(fn, *args)
        except BaseException:
            self._slots.release()
            raise
        future.add_done_callback(lambda _: self._slots.release())
        return future

    def __enter__(self) -> "BackgroundWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        # On an error or Ctrl-C, jobs already queued are dropped; running ones finish (each
        # writes its file atomically, so nothing half-written remains).
        self._pool.shutdown(wait=True, cancel_futures=exc[0] is not None)
