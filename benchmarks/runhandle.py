"""One run's handle, whatever executed it (benchmarks.executors.submit_runs returns one per key), and ``wait``
for many: the executor's state word, the job's log paths, and ``result()`` (the stored result record, or the
run's error raised).
"""
from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Iterable

from .runkey import RunKey


class RunHandle:
    """One key's run, whatever executed it. ``state`` is the executor's own word (DONE, FAILED, RUNNING,
    PENDING, COMPLETED, ...); ``result()`` returns the stored result record or raises the run's error."""

    def __init__(self, key: RunKey, executor: str, job: Any = None, result: dict | None = None,
                 exception: BaseException | None = None, state: str | None = None):
        self.key = key
        self.executor = executor
        self._job = job
        self._result = result
        self._exception = exception
        self._state = state
        self._submitted = threading.Event()
        if job is not None or state is not None:
            self._submitted.set()

    def _attach(self, job: Any) -> None:
        self._job = job
        self._submitted.set()

    @property
    def job(self) -> Any:
        return self._job

    @property
    def job_id(self) -> str | None:
        return None if self._job is None else str(self._job.job_id)

    @property
    def stdout(self) -> Path | None:
        return None if self._job is None else self._job.paths.stdout

    @property
    def stderr(self) -> Path | None:
        return None if self._job is None else self._job.paths.stderr

    @property
    def state(self) -> str:
        if self._state is not None:
            return self._state
        if self._job is None:
            return "QUEUED_LOCALLY"  # local executor: waiting for a free slot
        return str(self._job.state)

    def done(self) -> bool:
        if self._state is not None:
            return True
        return self._job is not None and self._job.done()

    def wait(self, timeout: float | None = None) -> None:
        if not self._submitted.wait(timeout):
            raise TimeoutError(f"{self.key.name}: not started within {timeout} s")
        if self._job is not None and self._state is None:
            end = None if timeout is None else time.time() + timeout
            while not self._job.done():
                if end is not None and time.time() > end:
                    raise TimeoutError(f"{self.key.name}: job {self.job_id} not done within {timeout} s")
                time.sleep(0.5)

    def exception(self, timeout: float | None = None) -> BaseException | None:
        self.wait(timeout)
        if self._job is not None and self._state is None:
            return self._job.exception()
        return self._exception

    def result(self, timeout: float | None = None) -> dict:
        self.wait(timeout)
        if self._job is not None and self._state is None:
            if getattr(self._job, "num_tasks", 1) > 1:      # a data-parallel job: rank 0's result is the run's
                return self._job.results()[0]
            return self._job.result()
        if self._exception is not None:
            raise self._exception
        return self._result  # type: ignore[return-value]

    def __repr__(self) -> str:
        jid = f" job={self.job_id}" if self.job_id else ""
        return f"<RunHandle {self.key.name} {self.executor}{jid} {self.state}>"


def wait(handles: Iterable[RunHandle], timeout: float | None = None) -> list[RunHandle]:
    """Block until every handle is done; returns the handles."""
    handles = list(handles)
    end = None if timeout is None else time.time() + timeout
    for h in handles:
        h.wait(None if end is None else max(0.0, end - time.time()))
    return handles
