"""The synthetic demo set: on-disk format, determinism, resumability and the parameter guard (tiny sizes, fast)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

av = pytest.importorskip("av")
sf = pytest.importorskip("soundfile")
pytest.importorskip("cv2")

from avfmae.data.manifest import read_manifest  # noqa: E402
from benchmarks.datasets import synth  # noqa: E402

TINY = dict(subjects=3, clips_per_class=1, seconds=1.0, size=32, progress=False)


def _make(root: Path, workers: int = 1, **kw) -> Path:
    return synth.generate(root, **{**TINY, "workers": workers, **kw})


def _decode(path: Path) -> np.ndarray:
    with av.open(str(path)) as box:
        return np.stack([f.to_ndarray(format="rgb24") for f in box.decode(video=0)])


def _files(root: Path) -> dict[str, Path]:
    return {str(p.relative_to(root)): p for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return _make(tmp_path_factory.mktemp("synth") / "demo")


def test_spec():
    spec = synth.SPEC
    assert (spec.name, spec.task, spec.root, spec.main_metric) == ("demo", "CEA", "demo", "uar")
    assert spec.num_classes == 6 and spec.folds == ("fold1", "fold2", "fold3")
    assert spec.metrics == ("uar", "war", "wf1") and spec.validation == "test"
    assert spec.modalities == ("video", "audio") and spec.paper == {}


def test_manifests_and_folds(tiny):
    assert synth.SPEC.is_prepared(tiny.parent) and synth.SPEC.revision(tiny.parent) != "absent"
    everyone = set()
    for fold in synth.SPEC.folds:
        train = read_manifest(tiny / "splits" / fold / "train.tsv", num_classes=6)
        test = read_manifest(tiny / "splits" / fold / "test.tsv", num_classes=6)
        assert {r.subject for r in train}.isdisjoint({r.subject for r in test})
        assert {r.target for r in train} == {r.target for r in test} == set(range(6))
        assert len(train) + len(test) == 3 * 6
        for r in train + test:
            assert not Path(r.video).is_absolute() and (tiny / r.video).is_file()
            assert r.audio.endswith(".wav") and (tiny / r.audio).is_file()
        everyone |= {r.subject for r in test}
    assert everyone == {"s01", "s02", "s03"}


def test_media_format(tiny):
    rec = read_manifest(tiny / "splits" / "fold1" / "test.tsv")[0]
    with av.open(str(tiny / rec.video)) as box:
        vs, aus = box.streams.video[0], box.streams.audio[0]
        assert vs.codec_context.name in ("h264", "mpeg4") and (vs.width, vs.height) == (32, 32)
        assert vs.average_rate == 25
        assert aus.codec_context.name == "aac" and aus.rate == 16000 and aus.codec_context.channels == 1
        n_audio = sum(f.samples for f in box.decode(audio=0))
    assert abs(n_audio - 16000) <= 2048                 # AAC pads to whole 1024-sample frames
    frames = _decode(tiny / rec.video)
    assert frames.shape == (25, 32, 32, 3) and frames.std() > 5
    wav, sr = sf.read(str(tiny / rec.audio), dtype="int16")
    assert sr == 16000 and wav.ndim == 1 and len(wav) == 16000 and np.abs(wav).max() > 1000
    assert sf.info(str(tiny / rec.audio)).subtype == "PCM_16"


def test_deterministic_and_worker_independent(tiny, tmp_path):
    again = _make(tmp_path / "demo", workers=2)
    a, b = _files(tiny), _files(again)
    assert a.keys() == b.keys()
    for name in a:
        if name.endswith((".tsv", ".json", ".wav")):
            assert a[name].read_bytes() == b[name].read_bytes(), name
    for name in (n for n in a if n.endswith(".mp4")):
        assert np.array_equal(_decode(a[name]), _decode(b[name])), name
        assert a[name].read_bytes() == b[name].read_bytes(), name   # same machine: same bytes too


def test_resume_rewrites_only_missing_clip(tmp_path):
    root = _make(tmp_path / "demo")
    before = {n: (p.stat().st_mtime_ns, p.read_bytes()) for n, p in _files(root).items() if "/clips/" in f"/{n}"}
    victim = "clips/s02/s02-happy-01.mp4"
    (root / victim).unlink()
    # a killed writer's temp file (avfmae.atomic naming; pid 999999999 is above pid_max, never alive)
    (root / "clips/s02/.s02-sad-01.mp4.999999999.0123abcd.tmp.mp4").write_bytes(b"half a file from a killed run")
    _make(root)
    after = _files(root)
    assert not any(".tmp" in n for n in after)
    for name, (mtime, data) in before.items():
        assert after[name].read_bytes() == data, name
        if not name.startswith("clips/s02/s02-happy-01."):
            assert after[name].stat().st_mtime_ns == mtime, f"{name} was rewritten"
    assert after[victim].stat().st_mtime_ns != before[victim][0]


def test_parameter_mismatch(tmp_path):
    root = _make(tmp_path / "demo", seed=0)
    with pytest.raises(synth.SynthError, match=r"seed=0 \(now 1\).*--force"):
        _make(root, seed=1)
    _make(root, seed=1, force=True)
    assert '"seed": 1' in (root / synth.MARKER).read_text()
    other = tmp_path / "not-ours"
    other.mkdir()
    (other / "keep.txt").write_text("x")
    with pytest.raises(synth.SynthError, match="no synth.json"):
        _make(other)


def test_ensure_keeps_a_current_set_and_regenerates_an_outdated_one(tmp_path, capsys):
    import json
    root = _make(tmp_path / "demo")
    rev = synth.SPEC.revision(tmp_path)
    victim = root / "clips" / "s01" / "s01-sad-01.mp4"
    mtime = victim.stat().st_mtime_ns
    assert synth.ensure(root, **TINY) == root and victim.stat().st_mtime_ns == mtime    # current: untouched
    marker = json.loads((root / synth.MARKER).read_text())
    marker["params"]["version"] = synth.VERSION - 1                                    # made by an older generator
    (root / synth.MARKER).write_text(json.dumps(marker))
    assert synth.SPEC.revision(tmp_path) != rev          # the marker is part of the revision: results keyed apart
    victim.write_bytes(b"old")
    synth.ensure(root, **TINY)
    assert "regenerating" in capsys.readouterr().out
    assert victim.read_bytes() != b"old" and synth.SPEC.revision(tmp_path) == rev
    assert synth.ensure(root) == root                  # no parameters asked: any complete current set will do
    with pytest.raises(synth.SynthError, match="other parameters"):                    # anything else: no deletion
        synth.ensure(root, **{**TINY, "seed": 5})


def test_cli(tmp_path, capsys):
    out = tmp_path / "cli"
    argv = ["--out", str(out), "--subjects", "3", "--clips-per-class", "1", "--seconds", "1", "--size", "32",
            "--workers", "1", "--quiet"]
    assert synth.main(argv) == 0
    assert "18 clips" in capsys.readouterr().out
    assert synth.main([*argv, "--seed", "3"]) == 2
    assert "other parameters" in capsys.readouterr().err


def test_bad_parameters(tmp_path):
    with pytest.raises(ValueError, match="subjects"):
        _make(tmp_path / "x", subjects=2)
    with pytest.raises(ValueError, match="size"):
        _make(tmp_path / "x", size=33)


def test_the_demonstration_corpus_and_the_suites_demo_extra_live_apart(tmp_path, monkeypatch):
    """The main job's external corpus (`demo-extra`, the suite's parameters) and the demonstration's (other
    parameters) are generated under one data root; sharing a folder made the second command refuse to run."""
    from benchmarks import demonstration
    from benchmarks.datasets import registry

    monkeypatch.setenv("AVF_DATA_ROOT", str(tmp_path))
    made = {}

    def fake_ensure(out=None, progress=True, **params):
        path = Path(out) if out is not None else tmp_path / "demo"
        assert made.setdefault(path, params) == params, f"{path} asked for with two sets of parameters"
        return path

    monkeypatch.setattr(synth, "ensure", fake_ensure)
    root, extra, _ = demonstration.ensure_data(None)
    assert root == registry.get("demo").path() == tmp_path / "demo"
    assert extra.parent == tmp_path and extra != registry.get("demo-extra").path()
    assert made[extra] == demonstration.EXTRA
