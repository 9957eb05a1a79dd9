"""Job queue wiring: RQ on Redis when IKHTIYAR_REDIS_URL is set, else an in-process worker
thread that runs the very same job functions."""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta

log = logging.getLogger("ikhtiyar.jobs")


class InProcessQueue:
    """One worker thread; delayed jobs wait in a heap. Jobs are looked up by dotted name,
    as RQ does, so both queues run the same functions."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Callable, tuple]] = []
        self._count = itertools.count()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stop = False
        self._busy = 0

    def enqueue(self, func: Callable, *args) -> None:
        self.enqueue_in(0, func, *args)

    def enqueue_in(self, seconds: float, func: Callable, *args) -> None:
        with self._cond:
            heapq.heappush(self._heap, (time.monotonic() + seconds, next(self._count), func, args))
            self._cond.notify()

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="ikhtiyar-worker", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify()

    def run_due(self) -> int:
        """Run every job that is due now, in this thread (tests and scripts)."""
        done = 0
        while True:
            with self._cond:
                if not self._heap or self._heap[0][0] > time.monotonic():
                    return done
                _, _, func, args = heapq.heappop(self._heap)
            _run(func, args)
            done += 1

    def pending(self) -> int:
        with self._cond:
            return len(self._heap) + self._busy

    def ping(self) -> bool:
        return self._thread is None or self._thread.is_alive()

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._stop and (not self._heap or self._heap[0][0] > time.monotonic()):
                    timeout = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._cond.wait(timeout)
                if self._stop:
                    return
                _, _, func, args = heapq.heappop(self._heap)
                self._busy += 1
            try:
                _run(func, args)
            finally:
                with self._cond:
                    self._busy -= 1


def _run(func: Callable, args: tuple) -> None:
    try:
        func(*args)
    except Exception:  # a failed job must not kill the worker; the sweeper retries work
        log.exception("job %s%r failed", func.__name__, args)


class RQQueue:
    """Jobs on Redis, run by ``ikhtiyar worker`` processes on any machine."""

    def __init__(self, redis_url: str, name: str) -> None:
        from redis import Redis
        from rq import Queue

        self.redis = Redis.from_url(redis_url)
        self.queue = Queue(name, connection=self.redis)

    def enqueue(self, func: Callable, *args) -> None:
        self.queue.enqueue(func, *args, job_timeout=300, result_ttl=0, failure_ttl=7 * 86400)

    def enqueue_in(self, seconds: float, func: Callable, *args) -> None:
        self.queue.enqueue_in(timedelta(seconds=seconds), func, *args, job_timeout=300,
                              result_ttl=0, failure_ttl=7 * 86400)

    def start(self) -> None:  # workers are separate processes
        pass

    def ping(self) -> bool:
        return bool(self.redis.ping())


def make_queue(redis_url: str | None, name: str):
    return RQQueue(redis_url, name) if redis_url else InProcessQueue()
