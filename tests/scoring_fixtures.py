"""Tiny datasets registered for a test (the registry's `get` monkeypatched), their fold manifests, and stored
results made the way `benchmarks.evaluate.evaluate_run` makes them (scores from `evaluate.score`, per-clip
predictions from `clip_predictions.stored_predictions`)."""
from __future__ import annotations

from pathlib import Path

from avfmae.data.manifest import ClipRecord, write_manifest
from benchmarks.recipe import Recipe
from benchmarks.runkey import RunKey
from benchmarks.store import ResultStore


def use_specs(monkeypatch, tmp_path: Path, *specs) -> ResultStore:
    """Register ``specs`` for this test (data under tmp_path/data, results under tmp_path/runs/results)."""
    from benchmarks.datasets import registry

    monkeypatch.setenv("AVF_DATA_ROOT", str(tmp_path / "data"))
    monkeypatch.setenv("AVF_RESULTS_DIR", str(tmp_path / "runs" / "results"))
    by_name = {s.name: s for s in specs}
    real = registry.get
    monkeypatch.setattr(registry, "get", lambda name: by_name[name] if name in by_name else real(name))
    return ResultStore()


def write_fold(spec, fold: str, test: list[tuple], train: list[tuple]) -> None:
    """Manifests of one fold: (clip, target, subject) tuples."""
    for split, rows in (("test", test), ("train", train)):
        write_manifest(spec.split_file(fold, split), [ClipRecord(c, f"{c}.mp4", None, t, s) for c, t, s in rows])


def put_run(store: ResultStore, spec, fold: str, clips, targets, scores, *, model: str = "m", seed: int = 0,
            recipe: Recipe = Recipe(), config_hash: str = "cfg0") -> RunKey:
    from benchmarks.clip_predictions import stored_predictions
    from benchmarks.evaluate import score

    key = RunKey(model, "", spec.name, "rev", "paper", "1", fold, seed, recipe, config_hash)
    scores_, confusion = score(spec, clips, targets, scores)
    store.put(key, {"scores": scores_, "confusion": confusion, "n_test": len(clips),
                    "predictions": stored_predictions(spec, fold, clips, targets, scores),
                    "created_at": "2026-01-01T00:00:00+00:00"})
    return key
