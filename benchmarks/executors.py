"""Run ``fn(key)`` for many RunKeys: in process, as local subprocesses, or as SLURM job arrays (submitit).

    handles = submit_runs(fn, keys, executor="auto")      # -> one RunHandle per key
    results = [h.result() for h in handles]               # stored result records (raises for a failed run)

Executors:
    inline  in this process, one key after the other; an exception is captured in its handle (and recorded in the
            store as a failure) and the other keys still run.
    local   submitit LocalExecutor: one subprocess per key, at most ``array_parallelism`` at a time (a daemon
            thread starts the next as one finishes, so keep this process alive: call ``h.result()``/``wait``).
    slurm   submitit AutoExecutor(cluster="slurm"): one job array per protocol (``executor.batch()``) throttled by
            ``slurm_array_parallelism``, resources from the cluster profile (``benchmarks.cluster``), every job's
            setup exporting OMP_NUM_THREADS=$SLURM_CPUS_PER_TASK, logs in one folder per grid.
    auto    slurm when ``sbatch`` is on PATH, the cluster answers (``sinfo`` succeeds within 10 s) and we are not
            already inside a SLURM job (a login node); otherwise inline (a laptop, a machine whose slurm client
            has no running cluster, or a job that runs its keys itself). Never "local": that must be asked for.

Every job runs ``RunJob(fn, store_root)(key)``. It looks in the store first and returns a stored result at once,
so duplicate submissions, re-submitted grids and requeues are harmless; it stores what ``fn`` returns (or, if
``fn`` returns None, expects ``fn`` to have stored it). One run key trains at most once at a time: RunJob holds
``avfmae.atomic.file_lock`` on ``<work dir>/.run.lock`` while ``fn`` runs; a second process with the same key (two
identical commands, a re-run while a requeued job still runs) says so, waits, then returns the first one's stored
result (or trains itself if the first one failed). Only rank 0 takes the lock (``$RANK``/``$SLURM_PROCID`` unset or
0): the other ranks of a distributed run follow their rank 0 and must not wait on its lock.
RunJob is a submitit ``Checkpointable`` whose ``checkpoint()`` resubmits ONLY the RunKey: on preemption/timeout the requeued job starts ``fn(key)`` afresh, and
``fn`` resumes from its own checkpoint in ``store.work_dir(key)``. Inside a job ``$AVF_RESULTS_DIR`` points at the
submitting store, so ``ResultStore()`` there is the same store.

Each submission appends one JSON line per key to ``<folder>/jobs.jsonl`` (job id, signature, name, log paths);
``benchmarks.jobstatus.run_status`` joins those records with the store and the scheduler to say
done/running/pending/failed/missing.
"""
from __future__ import annotations

import collections
import contextlib
import datetime as _dt
import logging
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import submitit
from submitit.core.utils import DelayedSubmission

from avfmae.atomic import LockTimeout, file_lock
from avfmae.train.distributed import launch_rank

from .cluster import ClusterProfile, Resources, load_profile
from .jobstatus import append_record
from .runkey import RunKey
from .store import RESULTS_ENV, ResultStore

log = logging.getLogger(__name__)

EXECUTORS = ("auto", "inline", "local", "slurm")


def cluster_answers(timeout_s: float = 10.0) -> bool:
    """Whether ``sinfo`` reaches a controller (the slurm client alone does not make a cluster)."""
    try:
        return subprocess.run(["sinfo", "-h", "-o", "%P"], capture_output=True, timeout=timeout_s).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def resolve_executor(name: str = "auto") -> str:
    """'auto' -> 'slurm' if ``sbatch`` is on PATH, the cluster answers and ``$SLURM_JOB_ID`` is unset, else
    'inline' (saying why when a slurm client is there but no cluster answers)."""
    if name not in EXECUTORS:
        raise ValueError(f"executor must be one of {EXECUTORS}, not {name!r}")
    if name != "auto":
        return name
    if not shutil.which("sbatch") or "SLURM_JOB_ID" in os.environ:
        return "inline"
    if not cluster_answers():
        log.warning("sbatch is installed but no SLURM cluster answers (sinfo failed): running inline; "
                    "start the cluster or pass --executor slurm to see its error")
        return "inline"
    return "slurm"


# ----------------------------------------------------------------------------------------------- the job
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


# ----------------------------------------------------------------------------------------------- handles
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


# ----------------------------------------------------------------------------------------------- submission
def _default_folder(store: ResultStore, name: str | None) -> Path:
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return store.root.parent / "submitit" / (name or f"runs-{stamp}")


def _resources_for(protocol: str, resources: Resources | dict | None, profile: ClusterProfile,
                   stage: str | None = None) -> Resources:
    if isinstance(resources, Resources):
        return resources
    return profile.resources(protocol, stage=stage, **(resources or {}))


def submit_runs(fn: Callable[[RunKey], Any], keys: Iterable[RunKey], executor: str = "auto", *,
                resources: Resources | dict | None = None, array_parallelism: int | None = None,
                folder: str | os.PathLike | None = None, store: ResultStore | None = None,
                profile: ClusterProfile | None = None, name: str | None = None,
                skip_done: bool = True, prepare: Callable | None = None) -> list[RunHandle]:
    """Run ``fn(key)`` for every key; one handle per key, in input order.

    resources: a Resources, or a dict of overrides on the profile's per-protocol resources (default: the
    profile from ``$AVF_CLUSTER_PROFILE`` or the built-in one). array_parallelism: at most this many run at
    once (local and slurm). folder: submitit logs + ``jobs.jsonl`` (default ``<store>/../submitit/<name>``).
    skip_done: keys already in the store get a finished handle without any job. prepare (slurm only):
    ``prepare(keys, profile, folder, store, name) -> {key: "afterok:<job id>"}`` submits the jobs some runs must wait
    for (``benchmarks.pipeline.submit_starting_weights``: shared stage-1/2 training with its stage's resources);
    those runs are submitted with that dependency and the profile's [stages.stage3] resources."""
    kind = resolve_executor(executor)
    store = store or ResultStore()
    keys = list(keys)
    for k in keys:
        if not isinstance(k, RunKey):
            raise TypeError(f"submit_runs needs RunKey objects, got {type(k).__name__}")
    profile = profile or load_profile()
    job = RunJob(fn, store.root)
    handles: dict[RunKey, RunHandle] = {}
    todo: list[RunKey] = []
    for k in keys:
        if k in handles:
            continue
        rec = store.get(k) if skip_done else None
        if rec is not None:
            handles[k] = RunHandle(k, "store", result=rec, state="DONE")
        else:
            handles[k] = RunHandle(k, kind)
            todo.append(k)
    if todo:
        if kind == "inline":
            _run_inline(job, [handles[k] for k in todo])
        else:
            folder_path = Path(folder) if folder is not None else _default_folder(store, name)
            folder_path.mkdir(parents=True, exist_ok=True)
            after = prepare(todo, profile, folder_path, store, name or "avf") if (prepare and kind == "slurm") else {}
            by_protocol: dict[tuple, list[RunHandle]] = collections.defaultdict(list)
            for k in todo:
                by_protocol[(k.protocol, after.get(k))].append(handles[k])
            for (protocol, dependency), group in by_protocol.items():
                res = _resources_for(protocol, resources, profile, "stage3" if after else None)
                if dependency:
                    res = res.merged(additional={**dict(res.additional), "dependency": dependency})
                if array_parallelism is not None:
                    res = res.merged(array_parallelism=array_parallelism)
                if kind == "local":
                    _submit_local(job, group, res, folder_path)
                else:
                    _submit_slurm(job, group, res, folder_path, name or "avf")
    return [handles[k] for k in keys]


def _run_inline(job: RunJob, handles: Sequence[RunHandle]) -> None:
    for h in handles:
        try:
            h._result, h._state = job(h.key), "DONE"
        except Exception as e:
            log.error("%s failed: %s: %s", h.key.name, type(e).__name__, e)
            h._exception, h._state = e, "FAILED"
        h._submitted.set()


def _submit_slurm(job: RunJob, handles: Sequence[RunHandle], res: Resources, folder: Path, name: str) -> None:
    ex = submitit.AutoExecutor(folder=folder, cluster="slurm")
    ex.update_parameters(name=name, **res.to_submitit("slurm"))
    with ex.batch():
        jobs = [ex.submit(job, h.key) for h in handles]
    for h, j in zip(handles, jobs):
        h._attach(j)
        append_record(folder, h)
    log.info("submitted %d runs to SLURM as array %s (at most %d at once), logs in %s",
             len(jobs), jobs[0].job_id.split("_")[0] if jobs else "-", res.array_parallelism, folder)


def _submit_local(job: RunJob, handles: Sequence[RunHandle], res: Resources, folder: Path) -> None:
    ex = submitit.AutoExecutor(folder=folder, cluster="local")
    ex.update_parameters(**res.to_submitit("local"))
    limit = res.array_parallelism
    pending = collections.deque(handles)
    running: list[RunHandle] = []

    def start_next() -> None:
        h = pending.popleft()
        h._attach(ex.submit(job, h.key))
        append_record(folder, h)
        running.append(h)

    while pending and len(running) < limit:
        start_next()
    if not pending:
        return

    def throttle() -> None:
        while pending:
            running[:] = [h for h in running if not h.job.done()]
            while pending and len(running) < limit:
                try:
                    start_next()
                except Exception as e:  # keep the remaining handles from waiting forever
                    for h in list(pending):
                        h._exception, h._state = e, "FAILED"
                        h._submitted.set()
                    pending.clear()
                    return
            time.sleep(0.2)

    threading.Thread(target=throttle, name="avf-local-throttle", daemon=True).start()


