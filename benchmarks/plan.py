"""Planning: which runs a command stands for, which are done, and which datasets are missing.

Planning reads only split files (for dataset revisions) and the result store's file names, so planning the
whole `all` suite takes well under a second (see `python -m benchmarks.bench_plan`).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from .datasets import registry
from .datasets.spec import DatasetSpec
from .protocols import get_protocol
from .runkey import RunKey
from .store import ResultStore


@dataclass(frozen=True)
class PlannedRun:
    key: RunKey
    status: str                      # done | failed | missing (in the store)


@dataclass
class Plan:
    runs: list[PlannedRun] = field(default_factory=list)
    absent: list[tuple[DatasetSpec, Path]] = field(default_factory=list)   # data not prepared: expected path

    @property
    def todo(self) -> list[RunKey]:
        return [r.key for r in self.runs if r.status != "done"]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.runs:
            out[r.status] = out.get(r.status, 0) + 1
        return out


def weights_sha(model: str, weights: str | None) -> str:
    """sha256 of the weights a run starts from ('' for random init), cached by path, size and mtime."""
    import zoo
    from zoo.weights import sha256_file, zoo_dir

    name, tag = zoo.split_name(model)
    ref = tag or weights
    if ref is None:
        return ""
    path, record = zoo.resolve_weights(name, ref)
    if record is not None:
        return record.sha256
    st = path.stat()
    cache_file = zoo_dir() / "sha_cache.json"
    try:
        cache = json.loads(cache_file.read_text())
    except (OSError, json.JSONDecodeError):
        cache = {}
    ident = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"
    if ident not in cache:
        cache[ident] = sha256_file(path)
        from avfmae.atomic import atomic_write_text
        atomic_write_text(cache_file, json.dumps(cache))
    return cache[ident]


def make_plan(model: str, datasets: list[str], protocol: str, *, weights: str | None = None,
              folds: list[str] | None = None, seeds: list[int] | tuple = (0,), overrides: dict | None = None,
              store: ResultStore | None = None, data_root: Path | None = None,
              weights_id: str | None = None) -> Plan:
    """Run keys for model x datasets x folds x seeds under one protocol; absent datasets are listed, not run.

    weights_id: the identity to record instead of hashing a file (runs whose weights a pipeline makes)."""
    store = store or ResultStore()
    proto = get_protocol(protocol)
    sha = weights_id if weights_id is not None else weights_sha(model, weights)
    overrides = dict(overrides or {})
    if weights is not None and "." not in model:
        overrides.setdefault("weights", str(weights))
    plan = Plan()
    for name in datasets:
        spec = registry.get(name)
        if not spec.is_prepared(data_root):
            plan.absent.append((spec, spec.path(data_root)))
            continue
        revision = spec.revision(data_root)
        chosen = list(spec.folds) if not folds else [f for f in spec.folds if f in folds]
        for fold in chosen:
            for seed in seeds:
                key = RunKey(model=model, weights_sha=sha[:16], dataset=spec.name, dataset_revision=revision,
                             protocol=proto.name, protocol_version=proto.version, fold=fold, seed=int(seed),
                             overrides=overrides)
                plan.runs.append(PlannedRun(key, store.status(key)))
    return plan
