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

Every job runs ``RunJob(fn, store_root)(key)`` (benchmarks.runjob: the store checked first, one process per run key
at a time, requeued with the key only); each key's run is a ``RunHandle`` (benchmarks.runhandle, with ``wait``).

Each submission appends one JSON line per key to ``<folder>/jobs.jsonl`` (job id, signature, name, log paths);
``benchmarks.jobstatus.run_status`` joins those records with the store and the scheduler to say
done/running/pending/failed/missing.
"""
from __future__ import annotations

import collections
import datetime as _dt
import logging
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import submitit

from .cluster import ClusterProfile, Resources, load_profile
from .jobstatus import append_record
from .runhandle import RunHandle
from .runjob import RunJob
from .runkey import RunKey
from .store import ResultStore

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
