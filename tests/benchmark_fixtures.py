"""A tiny prepared demo set and a fast override set, shared by the benchmark-suite tests."""
from __future__ import annotations

from pathlib import Path

TINY_RUN = ["--set", "epochs=1", "--set", "stage1.epochs=1", "--set", "stage2.epochs=1", "--set", "batch_size=8",
            "--set", "stage1.batch_size=8", "--set", "stage2.batch_size=8", "--set", "progress=false",
            "--set", "stage1.progress=false", "--set", "stage2.progress=false"]


def tiny_demo(root: Path) -> Path:
    """The demo set at 3 subjects x 2 clips per class (64 px, 2.6 s), and its external corpus demo-extra with the
    parameters the demo suite derives from the demo set's (benchmarks.pipeline.demo_extra_params)."""
    from benchmarks.datasets import synth
    from benchmarks.pipeline import demo_extra_params

    params = dict(seed=0, subjects=3, clips_per_class=2, seconds=2.6, size=64)
    synth.generate(root / "demo-extra", **demo_extra_params(params), workers=1, progress=False)
    return synth.generate(root / "demo", **params, workers=1, progress=False)


def use_env(monkeypatch, tmp: Path) -> dict:
    env = {"AVF_DATA_ROOT": str(tmp / "data"), "AVF_ZOO_DIR": str(tmp / "zoo"),
           "AVF_RESULTS_DIR": str(tmp / "runs" / "results")}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return env
