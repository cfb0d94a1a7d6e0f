"""Runs that train their own starting weights: stage 1 (and stage 2) before stage-3 fine-tuning.

A run key asks for this with the override `stages` ("1+3" or "1+2+3"; "3" fine-tunes the given weights or a
random init), plus optional `stage1.<field>` / `stage2.<field>` config overrides and `arch.<field>` model
changes (ablations). By default stage 1 pre-trains on the fold's training split (labels unused) and stage 2
injects labels from the same split, so no test subject's label is ever seen; `stage1.data` / `stage2.data`
point them at other corpora. Each pre-training is cached under `<store>/../pipeline/<signature>/` and shared
by every run that needs the same one; a file lock makes concurrent jobs wait instead of training it twice.
"""
from __future__ import annotations

import hashlib
import json
from contextlib import contextmanager
from pathlib import Path

from avfmae.atomic import file_lock

from .datasets import registry
from .runkey import RunKey
from .store import ResultStore

STAGES = ("3", "1+3", "1+2+3")


def split_overrides(opts: dict) -> tuple[dict, dict, dict, dict]:
    """-> (arch changes, stage1 overrides, stage2 overrides, the rest)."""
    arch, s1, s2, rest = {}, {}, {}, {}
    for k, v in opts.items():
        for prefix, bucket in (("arch.", arch), ("stage1.", s1), ("stage2.", s2)):
            if k.startswith(prefix):
                bucket[k[len(prefix):]] = v
                break
        else:
            rest[k] = v
    return arch, s1, s2, rest


@contextmanager
def _locked(folder: Path):
    with file_lock(folder / ".lock"):
        yield


def _signature(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:12]


def _stage(stage: str, model: str, preset: str, fields: dict, overrides: dict, root: Path, tag_prefix: str) -> str:
    """Run (or reuse) one stage; returns the zoo reference `<model>.<tag>` of its exported weights."""
    import zoo
    from avfmae.train import apply_overrides, run_stage1, run_stage2, stage_config

    cfg = stage_config(stage, preset, model=model, **fields)
    if overrides:
        cfg = apply_overrides(cfg, [f"{k}={v}" for k, v in sorted(overrides.items())])
    sig = _signature({"stage": stage, "cfg": cfg.to_dict(), "arch": zoo.get_spec(model).arch_hash})
    tag = f"{tag_prefix}-{stage[-1]}-{sig}"
    folder = root / sig
    with _locked(folder):
        if any(r.tag == tag for r in zoo.tags_for(model)) and (folder / "done").is_file():
            return f"{model}.{tag}"
        cfg = cfg.replace(export_tag=tag, cache_dir=str(root / "view-cache"))
        (run_stage1 if stage == "stage1" else run_stage2)(cfg, folder)
        (folder / "done").write_text(tag + "\n")
    return f"{model}.{tag}"


def starting_weights(key: RunKey, store: ResultStore | None = None) -> tuple[str, str | None]:
    """(model name to fine-tune, weights reference or None) for a run key, training stages 1/2 if asked."""
    import zoo

    opts = key.overrides_dict
    arch, s1, s2, _ = split_overrides(opts)
    stages = str(opts.get("stages", "3"))
    if stages not in STAGES:
        raise ValueError(f"{key.name}: stages must be one of {STAGES}, not {stages!r}")
    base, _, tag = key.model.partition(".")
    model = zoo.derive(base, **arch)
    init = (f"{model}.{tag}" if tag else opts.get("weights"))
    if stages == "3":
        return model, init
    store = store or ResultStore()
    root = Path(store.root).resolve().parent / "pipeline"
    preset = opts.get("preset", "paper")
    spec = registry.get(key.dataset)
    fold_train = f"{spec.name}:{key.fold}:train"
    s1_fields = {"data": (fold_train,), "seed": key.seed, "init": init}
    ref = _stage("stage1", model, preset, s1_fields, s1, root, "s1")
    if stages == "1+2+3":
        s2_fields = {"data": (f"{fold_train}|name={spec.name}",), "seed": key.seed, "init": ref}
        ref = _stage("stage2", model, preset, s2_fields, s2, root, "s2")
    return model, ref


def ensure_demo_data() -> Path:
    """The synthetic demo set under $AVF_DATA_ROOT/demo, generated on first use (about a minute)."""
    from .datasets import synth

    return synth.ensure()
