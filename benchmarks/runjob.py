"""The job every executor runs (benchmarks.executors): ``RunJob(fn, store_root)(key)``, an idempotent ``fn(key)``.

Every job runs ``RunJob(fn, store_root)(key)``. It looks in the store first and returns a stored result at once,
so duplicate submissions, re-submitted grids and requeues are harmless; it stores what ``fn`` returns (or, if
``fn`` returns None, expects ``fn`` to have stored it). One run key trains at most once at a time: RunJob holds
``avfmae.atomic.file_lock`` on ``<work dir>/.run.lock`` while ``fn`` runs; a second process with the same key (two
identical commands, a re-run while a requeued job still runs) says so, waits, then returns the first one's stored
result (or trains itself if the first one failed). Only rank 0 takes the lock (``$RANK``/``$SLURM_PROCID`` unset or
0): the other ranks of a distributed run follow their rank 0 and must not wait on its lock.
RunJob is a submitit ``Checkpointable`` whose ``checkpoint()`` resubmits ONLY the RunKey: on preemption/timeout
the requeued job starts ``fn(key)`` afresh, and ``fn`` resumes from its own checkpoint in ``store.work_dir(key)``.
Inside a job ``$AVF_RESULTS_DIR`` points at the submitting store, so ``ResultStore()`` there is the same store.
"""
from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from typing import Any, Callable

import submitit
from submitit.core.utils import DelayedSubmission

from avfmae.atomic import LockTimeout, file_lock
from avfmae.train.distributed import launch_rank

from .runkey import RunKey
from .store import RESULTS_ENV, ResultStore

log = logging.getLogger(__name__)

RUN_LOCK = ".run.lock"


def is_rank_zero() -> bool:
    """False in the non-zero ranks of a distributed job (torchrun's RANK, srun's SLURM_PROCID, submitit's local
    tasks: avfmae.train.distributed.launch_rank)."""
    return launch_rank() == 0


def _say(msg: str) -> None:
    """To the job's log (stderr) whether or not logging is configured there."""
    log.info(msg)
    print(msg, file=sys.stderr, flush=True)


def _record_failure(store: ResultStore, key: RunKey, error: BaseException) -> None:
    """Store the failure record; when that write fails too (a read-only store), say so and keep the original
    error the one that is raised and reported (the second one only as a note)."""
    try:
        store.put_failure(key, error)
    except Exception as second:  # noqa: BLE001 - never let it replace the run's own error
        note = (f"(the failure record could not be written to {store.failure_path(key)}: "
                f"{type(second).__name__}: {second})")
        _say(f"run {key.name}: {note}")
        if hasattr(error, "add_note"):
            error.add_note(note)


class RunJob(submitit.helpers.Checkpointable):
    """The callable every executor runs: idempotent ``fn(key)`` against the store at ``store_root``.
    Holds only ``fn`` (pickled by reference) and the store path; no run state lives in it."""

    def __init__(self, fn: Callable[[RunKey], Any], store_root: str | os.PathLike):
        self.fn = fn
        self.store_root = os.path.abspath(store_root)  # jobs may start in another working directory

    def __call__(self, key: RunKey) -> dict:
        if not is_rank_zero():   # a data-parallel job's other ranks: no lock, no store writes (see _follow)
            return self._follow(key)
        store = ResultStore(self.store_root)
        done = store.get(key)
        if done is not None:
            log.info("%s: already in the store, not run again", key.name)
            return done
        lock = store.work_dir(key) / RUN_LOCK
        with contextlib.ExitStack() as held:
            try:
                held.enter_context(file_lock(lock, timeout=0))
            except LockTimeout:
                try:
                    holder = lock.read_text(encoding="ascii", errors="replace").strip() or "unknown"
                except OSError:
                    holder = "unknown"
                _say(f"run {key.name} is already running in another process (pid {holder}); waiting for it "
                     f"(lock {lock})")
                held.enter_context(file_lock(lock))
                done = store.get(key)
                if done is not None:
                    _say(f"run {key.name}: reused the result of the other process")
                    return done
                _say(f"run {key.name}: the other process ended without a result; running it here")
            return self._run(store, key)

    def _run(self, store: ResultStore, key: RunKey) -> dict:
        previous = os.environ.get(RESULTS_ENV)
        os.environ[RESULTS_ENV] = self.store_root
        started = time.time()
        try:
            out = self.fn(key)
        except Exception as e:  # SystemExit/KeyboardInterrupt (requeue, cancel) are not failures of the run
            _record_failure(store, key, e)
            raise
        finally:
            if previous is None:
                os.environ.pop(RESULTS_ENV, None)
            else:
                os.environ[RESULTS_ENV] = previous
        if out is not None:
            out = dict(out)
            timings = dict(out.get("timings") or {})
            timings.setdefault("wall_s", round(time.time() - started, 3))
            out["timings"] = timings
            store.put(key, out)
        rec = store.get(key)
        if rec is None:
            err = RuntimeError(f"{key.name}: {getattr(self.fn, '__name__', self.fn)} returned "
                               f"{'None' if out is None else 'a result'} but no valid result is in {store.path(key)}")
            _record_failure(store, key, err)
            raise err
        return rec

    def _follow(self, key: RunKey) -> dict:
        """Rank > 0 of a data-parallel job (tasks_per_node > 1): trains with rank 0 inside ``fn`` but takes no
        lock and stores nothing; rank 0 does both. It reads the store first, as rank 0 does, so both skip a
        finished run alike. submitit returns rank 0's result as the job's."""
        done = ResultStore(self.store_root).get(key)
        if done is not None:
            return done
        os.environ[RESULTS_ENV] = self.store_root
        out = self.fn(key)
        return dict(out) if out is not None else {}

    def checkpoint(self, key: RunKey, *args: Any, **kwargs: Any) -> DelayedSubmission:
        """On preemption/timeout: requeue with the RunKey only; the run resumes from its work dir."""
        return DelayedSubmission(RunJob(self.fn, self.store_root), key)
