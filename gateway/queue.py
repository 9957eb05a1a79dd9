"""Job queue wiring: RQ on Redis when IKHTIYAR_REDIS_URL is set, else in-process worker
threads that run the very same job functions.

Jobs go to one of five queues by what they do, so a reply never waits behind a backlog of
turns and a hostile scan never delays a citizen:

    deliveries  sending a reply (queued right after the turn commits)
    retries     a delivery tried again after a transient error
    turns       conversation turns
    media       downloads of media and call recordings
    ocr         reading scanned letters (its own worker process, or its own thread)
    analytics   offering a new complaint to duplicate clustering (last in line; in process,
                on the OCR thread, so loading scikit-learn never delays a reply)

A job is queued at most once while it waits: its id is derived from the function and its
arguments (``process_inbound-42``), and a second ``enqueue`` of the same job before a worker has taken
it is a no-op. The guard is lifted when a worker starts the job, so the sweeper can queue it
again if that worker dies; every job is safe to run twice.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import logging
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

log = logging.getLogger("ikhtiyar.jobs")

QUEUES = ("deliveries", "retries", "turns", "media", "ocr", "analytics")
# What `ikhtiyar worker` listens to without --queue: everything but OCR, in priority order
# (clustering last)
# (RQ takes from the first non-empty queue). OCR gets its own worker so a slow scan never
# holds up a citizen's reply.
DEFAULT_WORKER_QUEUES = ("deliveries", "retries", "turns", "media", "analytics")
_ROUTES = {"process_inbound": "turns", "deliver": "deliveries", "fetch_message_media": "media",
           "fetch_audio": "media", "read_letter": "ocr", "cluster_complaint": "analytics"}
GUARD_TTL = 6 * 3600  # seconds: longer than any backlog we expect to drain
JOB_TIMEOUT = 300
STALLED_AFTER_S = 60


# Job durations for /metrics: a histogram per job function, in seconds (Prometheus's `le`).
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


class JobDurations:
    """Per job function: how many runs fell in each bucket, their total and their count.
    Kept in memory for the in-process worker; on Redis for RQ workers (``record_on_redis``),
    so any web process reports every worker's jobs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[str, list[float]] = {}  # name -> [bucket counts..., +Inf count, sum]

    def record(self, job: str, seconds: float) -> None:
        index = bisect.bisect_left(DURATION_BUCKETS, seconds)
        with self._lock:
            row = self._jobs.setdefault(job, [0.0] * (len(DURATION_BUCKETS) + 2))
            row[index] += 1
            row[-1] += seconds

    def snapshot(self) -> dict[str, tuple[list[int], float]]:
        """name -> (the count in each bucket, +Inf last; not cumulative), the seconds' sum."""
        with self._lock:
            return {job: ([int(n) for n in row[:-1]], row[-1]) for job, row in self._jobs.items()}


def _durations_key(prefix: str) -> str:
    return f"ikhtiyar:metrics:{prefix}:job_seconds"


def record_on_redis(redis, prefix: str, job: str, seconds: float) -> None:
    """One hash per queue prefix, fields ``<job>|<bucket index>`` and ``<job>|sum``; one round trip."""
    with redis.pipeline(transaction=False) as pipe:
        pipe.hincrby(_durations_key(prefix), f"{job}|{bisect.bisect_left(DURATION_BUCKETS, seconds)}", 1)
        pipe.hincrbyfloat(_durations_key(prefix), f"{job}|sum", seconds)
        pipe.execute()


def durations_from_redis(redis, prefix: str) -> dict[str, tuple[list[int], float]]:
    jobs: dict[str, tuple[list[int], float]] = {}
    for field, value in redis.hgetall(_durations_key(prefix)).items():
        job, _, slot = (field.decode() if isinstance(field, bytes) else field).rpartition("|")
        counts, total = jobs.get(job) or ([0] * (len(DURATION_BUCKETS) + 1), 0.0)
        if slot == "sum":
            total = float(value)
        elif slot.isdigit() and int(slot) <= len(DURATION_BUCKETS):
            counts[int(slot)] = int(value)
        jobs[job] = (counts, total)
    return jobs


def queue_for(func: Callable, delayed: bool = False) -> str:
    """The queue a job function belongs to; a delayed delivery is a retry."""
    name = _ROUTES.get(func.__name__, "turns")
    return "retries" if delayed and name == "deliveries" else name


def job_key(func: Callable, args: tuple) -> str:
    """One id per unit of work: ``deliver-17``, ``process_inbound-42`` (RQ takes letters,
    digits, dashes and underscores)."""
    return "-".join([func.__name__, *(re.sub(r"[^A-Za-z0-9_]", "_", str(a)) for a in args)])


class InProcessQueue:
    """Two worker threads (jobs, and OCR apart); delayed jobs wait in a heap. Jobs are
    looked up by dotted name, as RQ does, so both queues run the same functions."""

    LANES = ("jobs", "ocr")

    def __init__(self) -> None:
        # Per lane, one heap per queue (in priority order), each by due time.
        self._heaps: dict[str, dict[str, list[tuple[float, int, Callable, tuple]]]] = {
            lane: {q: [] for q in QUEUES} for lane in self.LANES}
        self._count = itertools.count()
        self._cond = threading.Condition()
        self._threads: dict[str, threading.Thread] = {}
        self._stop = False
        self._busy = 0
        self._waiting: set[str] = set()
        self.durations = JobDurations()

    @staticmethod
    def _lane(func: Callable) -> str:
        return "ocr" if queue_for(func) in ("ocr", "analytics") else "jobs"

    def enqueue(self, func: Callable, *args) -> None:
        self._push(0, func, args, dedupe=True)

    def enqueue_in(self, seconds: float, func: Callable, *args) -> None:
        self._push(seconds, func, args, dedupe=False)

    def enqueue_again(self, func: Callable, *args) -> None:
        """For the sweeps (a job here is lost only with its process, queue and all)."""
        self.enqueue(func, *args)

    enqueue_new = enqueue

    def _push(self, seconds: float, func: Callable, args: tuple, dedupe: bool) -> None:
        key = job_key(func, args)
        with self._cond:
            if dedupe and key in self._waiting:
                return
            if dedupe:
                self._waiting.add(key)
            heapq.heappush(self._heaps[self._lane(func)][queue_for(func, delayed=not dedupe)],
                           (time.monotonic() + seconds, next(self._count), func, args))
            self._cond.notify_all()

    def start(self) -> None:
        for lane in self.LANES:
            if lane not in self._threads:
                thread = threading.Thread(target=self._work, args=(lane,),
                                          name=f"ikhtiyar-{lane}", daemon=True)
                self._threads[lane] = thread
                thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()

    def _pop(self, lane: str, now: float):
        # Among the jobs due now, the most urgent queue's first: a reply never waits behind turns.
        for heap in self._heaps[lane].values():
            if heap and heap[0][0] <= now:
                _, _, func, args = heapq.heappop(heap)
                self._waiting.discard(job_key(func, args))
                return func, args
        return None

    def _next_due(self, lane: str) -> float | None:
        dues = [heap[0][0] for heap in self._heaps[lane].values() if heap]
        return min(dues) if dues else None

    def run_due(self) -> int:
        """Run every job that is due now, in this thread (tests and scripts)."""
        done = 0
        while True:
            with self._cond:
                now = time.monotonic()
                job = self._pop("jobs", now) or self._pop("ocr", now)
            if job is None:
                return done
            _run(*job, self.durations)
            done += 1

    def job_durations(self) -> dict[str, tuple[list[int], float]]:
        return self.durations.snapshot()

    def pending(self) -> int:
        with self._cond:
            return sum(len(h) for lane in self._heaps.values() for h in lane.values()) + self._busy

    def ping(self) -> bool:
        return all(t.is_alive() for t in self._threads.values())

    def _work(self, lane: str) -> None:
        while True:
            with self._cond:
                while True:
                    if self._stop:
                        return
                    job = self._pop(lane, time.monotonic())
                    if job is not None:
                        break
                    due = self._next_due(lane)
                    self._cond.wait(None if due is None else max(0.0, due - time.monotonic()))
                self._busy += 1
            try:
                _run(*job, self.durations)
            finally:
                with self._cond:
                    self._busy -= 1


def _run(func: Callable, args: tuple, durations: JobDurations | None = None) -> None:
    start = time.perf_counter()
    try:
        func(*args)
    except Exception:  # a failed job must not kill the worker; the sweeper retries work
        log.exception("job %s%r failed", func.__name__, args)
    if durations is not None:  # a failed job's time counts too: it held the worker as long
        durations.record(func.__name__, time.perf_counter() - start)


class RQQueue:
    """Jobs on Redis, run by ``ikhtiyar worker`` processes on any machine."""

    def __init__(self, redis_url: str, name: str) -> None:
        from redis import Redis
        from rq import Queue

        self.redis = Redis.from_url(redis_url, socket_timeout=10, socket_connect_timeout=5,
                                    health_check_interval=30)
        self.prefix = name
        self.queues = {q: Queue(f"{name}-{q}", connection=self.redis) for q in QUEUES}

    @property
    def queue(self):
        """The turns queue (what a single-queue caller means)."""
        return self.queues["turns"]

    def names(self, which: tuple[str, ...] = QUEUES) -> list[str]:
        return [self.queues[q].name for q in which]

    def guard(self, job_id: str) -> str:
        return f"ikhtiyar:queued:{self.prefix}:{job_id}"

    def enqueue(self, func: Callable, *args) -> None:
        job_id = job_key(func, args)
        # SET NX: only the first of concurrent enqueues of this job puts it on the queue.
        if not self.redis.set(self.guard(job_id), 1, nx=True, ex=GUARD_TTL):
            return
        try:
            self.queues[queue_for(func)].enqueue(func, *args, job_id=job_id, job_timeout=JOB_TIMEOUT,
                                                 result_ttl=0, failure_ttl=7 * 86400)
        except Exception:
            self.redis.delete(self.guard(job_id))
            raise

    def enqueue_new(self, func: Callable, *args) -> None:
        """``enqueue`` for work that has just come into being (a message stored a moment
        ago): nothing can have queued it yet, so the guard is set without asking, and the
        whole enqueue is one round trip to Redis (the webhook's path)."""
        job_id = job_key(func, args)
        with self.redis.pipeline() as pipe:
            self.queues[queue_for(func)].enqueue_call(func, args=args, job_id=job_id, timeout=JOB_TIMEOUT,
                                                      result_ttl=0, failure_ttl=7 * 86400, pipeline=pipe)
            pipe.set(self.guard(job_id), 1, ex=GUARD_TTL)  # after RQ's MULTI, in the same round trip
            pipe.execute()

    def enqueue_again(self, func: Callable, *args) -> None:
        """For the sweeps: queue the job unless it is really waiting or running. A worker
        killed between taking a job and starting it leaves the job's guard behind; this
        looks past a guard whose job is gone."""
        job_id = job_key(func, args)
        if self.redis.exists(self.guard(job_id)) and self._alive(job_id, queue_for(func)):
            return
        self.redis.delete(self.guard(job_id))
        self.enqueue(func, *args)

    def _alive(self, job_id: str, queue: str) -> bool:
        from rq.exceptions import NoSuchJobError
        from rq.job import Job, JobStatus

        try:
            job = Job.fetch(job_id, connection=self.redis)
        except NoSuchJobError:
            return False
        status = job.get_status(refresh=False)
        if status in (JobStatus.QUEUED, JobStatus.DEFERRED, JobStatus.SCHEDULED):
            return self.redis.lpos(self.queues[queue].key, job_id) is not None
        if status == JobStatus.STARTED and job.started_at is not None:
            # Turns and deliveries take milliseconds; one "started" this long ago lost its worker.
            limit = JOB_TIMEOUT if queue == "ocr" else STALLED_AFTER_S
            age = (datetime.now(UTC) - job.started_at.replace(tzinfo=UTC)).total_seconds()
            return age < limit
        return False

    def enqueue_in(self, seconds: float, func: Callable, *args) -> None:
        # A retry has an id of its own: the job that schedules it is still running under
        # the plain id, and RQ would drop the retry with it when it finishes.
        job_id = f"{job_key(func, args)}-at-{time.time_ns()}"
        self.queues[queue_for(func, delayed=True)].enqueue_in(
            timedelta(seconds=seconds), func, *args, job_id=job_id, job_timeout=JOB_TIMEOUT,
            result_ttl=0, failure_ttl=7 * 86400)

    def depths(self) -> dict[str, int]:
        return {q: queue.count for q, queue in self.queues.items()}

    def job_durations(self) -> dict[str, tuple[list[int], float]]:
        """What every worker on this Redis recorded (see ``worker_class``)."""
        return durations_from_redis(self.redis, self.prefix)

    def start(self) -> None:  # workers are separate processes
        pass

    def ping(self) -> bool:
        return bool(self.redis.ping())


def worker_class():
    """RQ's non-forking worker, lifting a job's enqueue guard when it starts (see above).

    A forking worker would run every job in a fresh process that has warmed nothing: the
    message catalog, the engine, the senders and the database connection built again for
    every job (100+ ms each). This one warms once and runs each job in-process.
    """
    from rq import SimpleWorker

    class Worker(SimpleWorker):
        guard_prefix = "ikhtiyar:queued"

        def perform_job(self, job, queue, execution=None):
            prefix = queue.name.rsplit("-", 1)[0]
            self.connection.delete(f"{self.guard_prefix}:{prefix}:{job.id}")
            start = time.perf_counter()
            try:
                return super().perform_job(job, queue, execution)
            finally:
                try:
                    record_on_redis(self.connection, prefix, job.func_name.rpartition(".")[2],
                                    time.perf_counter() - start)
                except Exception:  # a metric lost is no reason to fail the job
                    log.warning("could not record the duration of job %s", job.id, exc_info=True)

    return Worker


def make_queue(redis_url: str | None, name: str):
    return RQQueue(redis_url, name) if redis_url else InProcessQueue()
