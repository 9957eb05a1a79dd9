"""One scheduler leads: the sweeps run in one process however many schedulers are started.

On PostgreSQL the leader holds a session-level advisory lock on a connection of its own;
if its process dies, PostgreSQL drops the connection and the lock with it, and the next
scheduler to try takes over. On SQLite (one machine) an exclusive lock on a file in the var
folder does the same.
"""

from __future__ import annotations

import fcntl
import logging
from pathlib import Path

from sqlalchemy import text

log = logging.getLogger("ikhtiyar.scheduler")
LOCK_ID = 0x696B6874  # "ikht": the scheduler's advisory lock


class Leadership:
    def __init__(self, rt) -> None:
        self.rt = rt
        self._connection = None
        self._file = None

    def acquire(self) -> bool:
        """Whether this process leads now (takes the lock if it is free)."""
        try:
            if self.rt.engine.dialect.name == "postgresql":
                return self._pg()
            return self._flock()
        except Exception:
            log.exception("could not take the scheduler's lock; trying again next round")
            self.release()
            return False

    def _pg(self) -> bool:
        if self._connection is not None:
            try:  # still ours while the connection lives
                self._connection.exec_driver_sql("SELECT 1")
                return True
            except Exception:
                self.release()
        connection = self.rt.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        if connection.execute(text("SELECT pg_try_advisory_lock(:id)"), {"id": LOCK_ID}).scalar():
            log.info("this scheduler leads")
            self._connection = connection
            return True
        connection.close()
        return False

    def _flock(self) -> bool:
        if self._file is not None:
            return True
        path = Path(self.rt.settings.var_dir) / "scheduler.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = path.open("a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self._file = handle
        return True

    def release(self) -> None:
        if self._connection is not None:
            try:
                self._connection.invalidate()  # a dead or held connection: drop it, lock and all
            except Exception:
                log.debug("closing the leader's connection failed", exc_info=True)
            self._connection = None
        if self._file is not None:
            self._file.close()
            self._file = None
