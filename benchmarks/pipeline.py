"""Runs that train their own starting weights: stage 1 (and stage 2) before stage-3 fine-tuning.

A recipe asks for this with `stages` ("1+3" or "1+2+3"; "3" fine-tunes the given weights or a random init), plus
optional `stage1.<field>` / `stage2.<field>` config items and `arch.<field>` model changes (ablations); the
planner resolves the stage configs (benchmarks.resolve). By default stage 1 pre-trains on the fold's training split
(labels unused) and stage 2 injects labels from the same split, so no test subject's label is ever seen;
`stage1.data` / `stage2.data` point them at other corpora. Each pre-training is exported under a zoo tag that is
the hash of its config (`resolve.pipeline_tag`), cached under `<store>/../pipeline/<tag>/` and shared by every run
that needs the same one; a file lock makes concurrent jobs wait instead of training it twice.
"""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from avfmae.atomic import file_lock

from .resolve import Resolved
from .store import ResultStore


@contextmanager
def _locked(folder: Path):
    with file_lock(folder / ".lock"):
        yield


def _stage(stage: str, cfg, tag: str, root: Path, cache_dir: Path) -> str:
    """Run (or reuse) one pipeline stage; returns the zoo reference `<model>.<tag>` of its exported weights."""
    from avfmae import zoo
    from avfmae.train import run_stage1, run_stage2

    folder = root / tag
    with _locked(folder):
        if any(r.tag == tag for r in zoo.tags_for(cfg.model)) and (folder / "done").is_file():
            return f"{cfg.model}.{tag}"
        cfg = cfg.replace(export_tag=tag, cache_dir=cfg.cache_dir or str(cache_dir))
        (run_stage1 if stage == "stage1" else run_stage2)(cfg, folder)
        (folder / "done").write_text(tag + "\n")
    return f"{cfg.model}.{tag}"


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
    synth.ensure(registry.get("demo-extra").path(), seed=params["seed"] + 1, subjects=2 * params["subjects"],
                 clips_per_class=1, seconds=params["seconds"], size=params["size"])
    return demo
