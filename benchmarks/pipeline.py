"""Runs that train their own starting weights: stage 1 (and stage 2) before stage-3 fine-tuning.

A recipe asks for this with `stages` ("1+3" or "1+2+3"; "3" fine-tunes the given weights or a random init), plus
optional `stage1.<field>` / `stage2.<field>` config items and `arch.<field>` model changes (ablations); the
planner resolves the stage configs (benchmarks.resolve). By default stage 1 pre-trains on the fold's training split
(labels unused) and stage 2 injects labels from the same split, so no test subject's label is ever seen;
`stage1.data` / `stage2.data` point them at other corpora. Each pre-training is exported under a zoo tag that is
the hash of its config (`resolve.pipeline_tag`), cached under `<store>/../pipeline/<tag>/` and shared by every run
that needs the same one; a file lock makes concurrent jobs wait instead of training it twice.

Data-parallel jobs (several tasks): the process group is formed FIRST, then only rank 0 takes the lock and checks
"already done?", and tells the other ranks (a broadcast); all ranks then train the stage together, and rank 0
marks it done after a barrier. While another job holds the lock, rank 0 retries every `LOCK_POLL_S` seconds and
the ranks meet in one short collective per try, so no collective waits for the lock (and none times out).
"""
from __future__ import annotations

import contextlib
import logging
import time
from contextlib import contextmanager
from pathlib import Path

from avfmae.atomic import LockTimeout, file_lock

from .resolve import Resolved
from .store import ResultStore


log = logging.getLogger(__name__)
LOCK_POLL_S = 10.0


def _is_done(model: str, tag: str, folder: Path) -> bool:
    from avfmae import zoo

    return any(r.tag == tag for r in zoo.tags_for(model)) and (folder / "done").is_file()


@contextmanager
def _rank0_lock(info, folder: Path):
    """Rank 0 holds the folder's lock for the block; the other ranks wait with it, one collective per try."""
    from avfmae.train.distributed import broadcast_object

    with contextlib.ExitStack() as stack:
        waited = False
        while True:
            got = False
            if info.is_main:
                try:
                    stack.enter_context(file_lock(folder / ".lock", timeout=0.0))
                    got = True
                except LockTimeout:
                    got = False
            if broadcast_object(info, got):
                break
            if not waited:
                log.info("%s is locked by another job (training it); waiting", folder)
                waited = True
            time.sleep(LOCK_POLL_S)
        yield


def _stage(stage: str, cfg, tag: str, root: Path, cache_dir: Path) -> str:
    """Run (or reuse) one pipeline stage; returns the zoo reference `<model>.<tag>` of its exported weights."""
    from avfmae.train import run_stage1, run_stage2
    from avfmae.train.distributed import barrier, broadcast_object, init_distributed

    info = init_distributed(cfg.device, cfg.threads, cfg.dist_timeout_s)   # before any lock: see the docstring
    folder = root / tag
    ref = f"{cfg.model}.{tag}"
    with _rank0_lock(info, folder):
        if broadcast_object(info, _is_done(cfg.model, tag, folder) if info.is_main else None):
            return ref
        cfg = cfg.replace(export_tag=tag, cache_dir=cfg.cache_dir or str(cache_dir))
        (run_stage1 if stage == "stage1" else run_stage2)(cfg, folder)
        barrier(info, f"{stage} {tag} trained")
        if info.is_main:
            (folder / "done").write_text(tag + "\n")
    barrier(info, f"{stage} {tag} marked done")
    return ref


def train_starting_weights(resolved: Resolved, store: ResultStore | None = None) -> None:
    """Train (or find) the stage-1 / stage-2 weights a resolved run's stage 3 starts from."""
    store = store or ResultStore()
    root = Path(store.root).resolve().parent / "pipeline"
    for stage in ("stage1", "stage2"):
        if stage in resolved.configs:
            _stage(stage, resolved.configs[stage], resolved.tags[stage], root, store.view_cache_dir())


def ensure_demo_data() -> Path:
    """The synthetic demo set under $AVF_DATA_ROOT/demo and its external corpus (demo-extra: other identities,
    twice the subjects, one clip per class and subject, the demo set's clip length and size), generated on first
    use (about two minutes); returns the demo set's folder."""
    import json

    from .datasets import registry, synth

    demo = synth.ensure()
    params = json.loads((demo / synth.MARKER).read_text(encoding="utf-8"))["params"]
    synth.ensure(registry.get("demo-extra").path(), **demo_extra_params(params))
    return demo


def demo_extra_params(demo: dict) -> dict:
    """The external corpus's generator parameters for a demo set made with `demo`'s: other identities (seed + 1),
    twice the subjects, two clips per class and subject, the same clip length and size."""
    return dict(seed=demo["seed"] + 1, subjects=2 * demo["subjects"], clips_per_class=2, seconds=demo["seconds"],
                size=demo["size"])


# --------------------------------------------------------------------------------------- dependent SLURM jobs
class StartingWeightsJob:
    """A SLURM job that trains (or finds) the stage-1/2 weights of one run key: submitted once per distinct set
    of pipeline tags, with the profile's [stages.stage1] (or stage2) resources, before the stage-3 array."""

    def __init__(self, store_root: str):
        self.store_root = str(store_root)

    def __call__(self, key) -> str:
        from .evaluate import resolve_key

        store = ResultStore(self.store_root)
        resolved = resolve_key(key, store.work_dir(key))
        train_starting_weights(resolved, store)
        return ",".join(f"{s}={t}" for s, t in sorted(resolved.tags.items()))

    def checkpoint(self, key, *args, **kwargs):   # submitit: requeue on preemption; training resumes
        from submitit.core.utils import DelayedSubmission
        return DelayedSubmission(StartingWeightsJob(self.store_root), key)


def submit_starting_weights(keys, profile, folder: Path, store: ResultStore, name: str = "avf") -> dict:
    """Submit one job per distinct stage-1/2 pipeline among `keys` (skipping those already trained); returns
    {key: "afterok:<job id>"} for the keys whose stage-3 job must wait for it."""
    import submitit

    from .evaluate import resolve_key

    root = Path(store.root).resolve().parent / "pipeline"
    groups: dict[tuple, list] = {}
    for key in keys:
        resolved = resolve_key(key, store.work_dir(key))
        tags = tuple(sorted(resolved.tags.items()))
        if not tags:
            continue
        model = next(iter(resolved.configs.values())).model
        if all(_is_done(model, t, root / t) for _, t in tags):
            continue
        groups.setdefault(tags, []).append(key)
    deps: dict = {}
    for tags, group in groups.items():
        stage = "stage1" if any(s == "stage1" for s, _ in tags) else "stage2"
        res = profile.resources(group[0].protocol, stage=stage)
        ex = submitit.AutoExecutor(folder=folder, cluster="slurm")
        ex.update_parameters(name=f"{name}-{stage}", **res.to_submitit("slurm"))
        job = ex.submit(StartingWeightsJob(str(store.root)), group[0])
        log.info("submitted %s (%s) as job %s with %d node(s) x %d task(s); %d run(s) wait for it", stage,
                 ", ".join(t for _, t in tags), job.job_id, res.nodes, res.tasks_per_node, len(group))
        for k in group:
            deps[k] = f"afterok:{job.job_id}"
    return deps
