"""The path from a run's outputs to a reported number (issue #10 section 4), without torch: metric registry and
direction, per-video grouping and pooled LOSO through `benchmarks.evaluate.score` and the leaderboard's fold
rule, the result store refusing another key's result, generated folds pinned across processes and hash seeds,
compact per-clip predictions and the bootstrap interval. Every expected value is worked out in the test."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from avfmae import metrics as M
from benchmarks.recipe import Recipe

ROOT = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------------------------- registry
def test_registry_names_directions_and_check():
    assert M.check_metric_names(("uar", "war", "wf1")) == ("uar", "war", "wf1")
    assert M.check_metric_names(["ccc", "pcc", "mae", "mse", "rmse"])
    with pytest.raises(ValueError, match=r"mafw: unknown metric\(s\) 'uarr'.*known: uar"):
        M.check_metric_names(["uar", "uarr"], where="mafw")
    with pytest.raises(ValueError, match="mix classification and regression"):
        M.check_metric_names(["uar", "ccc"])
    # higher is better for scores, lower for errors
    assert [M.higher_is_better(n) for n in ("uar", "war", "ccc", "mse", "mae", "rmse")] == \
        [True, True, True, False, False, False]


def test_regression_errors_by_hand():
    t = np.array([[1.0, 0.0], [2.0, 0.0], [3.0, 0.0], [4.0, 0.0]])
    p = np.array([[2.0, 1.0], [2.0, -1.0], [1.0, 1.0], [4.0, -3.0]])
    # column 0: errors 1, 0, -2, 0 -> mae 3/4, mse 5/4; column 1: errors 1, -1, 1, -3 -> mae 6/4, mse 12/4
    got = M.compute(["mae", "mse", "rmse"], t, p, targets=["arousal", "valence"])
    assert got["mae_arousal"] == pytest.approx(0.75) and got["mae_valence"] == pytest.approx(1.5)
    assert got["mse"] == pytest.approx((1.25 + 3.0) / 2)
    assert got["rmse_valence"] == pytest.approx(3.0 ** 0.5)


# ----------------------------------------------------------------------------------------------- evaluate.score
def _avcaffe():
    from benchmarks.datasets import registry
    return registry.get("avcaffe")


def test_avcaffe_clips_are_grouped_per_video_before_scoring():
    from benchmarks.evaluate import score

    spec = _avcaffe()
    assert spec.group_pattern  # the dataset states its grouping; scoring must use it
    ids = ["aiim001_task_1_0001", "aiim001_task_1_0002", "aiim001_task_1_0003",
           "aiim002_task_4_0001", "aiim002_task_4_0002"]
    y = [0, 0, 0, 1, 1]
    probs = [[0.9, 0.1], [0.3, 0.7], [0.4, 0.6],     # video 1: 2 of 3 clips wrong; mean [0.533, 0.467] -> 0 right
             [0.2, 0.8], [0.55, 0.45]]               # video 2: 1 of 2 wrong;       mean [0.375, 0.625] -> 1 right
    probs = [row + [0.0] * (spec.num_classes - 2) for row in probs]
    scores, confusion = score(spec, ids, y, probs)
    # per video: 2 videos, both right -> WAR 100; clip level would be 2/5 = 40
    assert scores["war"] == pytest.approx(100.0)
    cm = np.zeros((spec.num_classes, spec.num_classes), int)
    cm[0, 0] = cm[1, 1] = 1
    assert confusion == cm.tolist()


def test_non_finite_outputs_are_an_error_not_a_score():
    """A NaN in one clip's probabilities: argmax would call it class 0 and the fold would get a plausible UAR;
    scoring refuses, naming the clip."""
    from benchmarks.evaluate import score

    spec = _avcaffe()
    ok = [1.0] + [0.0] * (spec.num_classes - 1)
    ids = ["aiim001_task_1_0001", "aiim001_task_1_0002", "aiim002_task_4_0001"]
    with pytest.raises(ValueError, match=r"not finite .* 1 of 3 test clips \(first: aiim001_task_1_0002\)"):
        score(spec, ids, [0, 0, 1], [ok, [float("nan")] * spec.num_classes, ok])
    assert score(spec, ids, [0, 0, 1], [ok, ok, ok])[0]["war"] == pytest.approx(50.0)   # 2 videos, 1 right


def _mer_spec(mode):
    from benchmarks.datasets.spec import DatasetSpec
    return DatasetSpec(name=f"loso-{mode}", title="LOSO fixture", task="MER", labels=("neg", "pos", "sur"),
                       folds=("s1", "s2"), fold_scheme="LOSO", metrics=("uf1", "uar"), main_metric="uf1",
                       fold_aggregate=mode)


def _loso_runs(spec):
    """Two LOSO folds scored through evaluate.score (stored as the executor stores them)."""
    from benchmarks.evaluate import score

    eye = np.eye(3) * 0.8 + 0.1
    folds = {"s1": ([0, 0, 1, 1], [0, 0, 1, 1]),      # subject 1: 4 right
             "s2": ([2, 2], [2, 0])}                   # subject 2: one of two surprises called negative
    runs = {}
    for f, (y, pred) in folds.items():
        s, cm = score(spec, [f"{f}_{i}" for i in range(len(y))], y, eye[pred].tolist())
        runs[(f, 0)] = {"scores": s, "confusion": cm}
    return runs


def test_pooled_loso_through_evaluate_and_the_leaderboard(monkeypatch):
    from benchmarks import leaderboard_rows

    specs = {"loso-pool": _mer_spec("pool"), "loso-mean": _mer_spec("mean")}
    monkeypatch.setattr(leaderboard_rows.registry, "get", lambda name: specs[name])
    rows = {}
    for name, spec in specs.items():
        row = leaderboard_rows.Row("m", "", name, "r", "paper", "1", Recipe(), "")
        row.runs = _loso_runs(spec)
        rows[name] = row
    # pooled confusion [[2,0,0],[0,2,0],[1,0,1]]: F1 = 2*2/(2+3) = 0.8, 1, 2*1/(2+1) = 2/3 -> UF1 82.22;
    # recall 1, 1, 1/2 -> UAR 83.33
    pool = rows["loso-pool"]
    assert pool.metric("uf1").mean == pytest.approx(100 * (0.8 + 1 + 2 / 3) / 3)
    assert pool.metric("uar").mean == pytest.approx(100 * 2.5 / 3)
    assert pool.metric("uf1").complete
    # per fold: s1 UF1 100, UAR 100; s2 labels {0, 2}: F1 0 and 2/3 -> 33.33, recall of class 2 only: 50
    mean = rows["loso-mean"]
    assert mean.metric("uf1").mean == pytest.approx((100 + 100 / 3) / 2)
    assert mean.metric("uar").mean == pytest.approx(75.0)
    assert pool.metric("uf1").mean != pytest.approx(mean.metric("uf1").mean)


def test_fold_rule_lives_beside_the_metric():
    runs = {("s1", 0): {"scores": {"uar": 100.0}, "confusion": [[2, 0], [0, 2]]},
            ("s2", 0): {"scores": {"uar": 50.0}, "confusion": [[0, 0], [1, 1]]}}
    # pooled [[2,0],[1,3]]: recall 1 and 3/4 -> 87.5; mean of folds (100 + 50) / 2 = 75
    assert M.aggregate_folds("pool", "uar", runs).mean == pytest.approx(87.5)
    assert M.aggregate_folds("mean", "uar", runs).mean == pytest.approx(75.0)
    incomplete = M.aggregate_folds("pool", "uar", {("s1", 0): runs[("s1", 0)]}, folds=["s1", "s2"], seeds=[0])
    assert not incomplete.complete and incomplete.missing == (("s2", 0),)
    with pytest.raises(ValueError, match="cannot be pooled"):
        M.aggregate_folds("pool", "ccc", runs)
    with pytest.raises(ValueError, match="fold aggregation"):
        M.aggregate_folds("median", "uar", runs)
    with pytest.raises(ValueError, match="x: metrics"):
        M.check_aggregation("pool", ["uf1", "ccc"], where="x")


# ----------------------------------------------------------------------------------------------- result store
def test_store_refuses_a_result_of_another_key(tmp_path):
    from benchmarks.runkey import RunKey
    from benchmarks.store import ResultStore

    store = ResultStore(tmp_path)
    a = RunKey("avfmae-tiny", "ab12", "demo", "rev", "paper", "1", "fold1", 0)
    b = RunKey("avfmae-tiny", "ab12", "demo", "rev", "paper", "1", "fold2", 0)
    with pytest.raises(ValueError, match="refusing to store a result of .*fold2.* under .*fold1"):
        store.put(a, {"scores": {"uar": 1.0}, "key": b.to_dict()})
    with pytest.raises(ValueError, match="refusing"):
        store.put(a, {"scores": {"uar": 1.0}, "key": b})
    assert not store.path(a).exists()
    store.put(a, {"scores": {"uar": 1.0}, "key": a.to_dict()})   # its own key is fine
    # a file of key b copied to a's place is not a's result
    store.put(b, {"scores": {"uar": 2.0}})
    store.path(a).write_text(store.path(b).read_text())
    assert store.get(a) is None and not store.is_done(a)


# ----------------------------------------------------------------------------------------------- generated folds
MER24_FIXTURE = {  # clip -> class word
    "sample_00000001": "happy", "sample_00000002": "happy", "sample_00000003": "happy",
    "sample_00000004": "happy", "sample_00000005": "happy", "sample_00000006": "happy",
    "sample_00000007": "sad", "sample_00000008": "sad", "sample_00000009": "sad",
    "sample_00000010": "worried", "sample_00000011": "neutral", "sample_00000012": "angry",
}
# Pinned: per class, clips sorted by sha256("mer24-tv:<clip>") and dealt round-robin into fold1..fold5.
MER24_PINNED = {
    "sample_00000001": "fold5", "sample_00000002": "fold4", "sample_00000003": "fold1",
    "sample_00000004": "fold3", "sample_00000005": "fold1", "sample_00000006": "fold2",
    "sample_00000007": "fold1", "sample_00000008": "fold2", "sample_00000009": "fold3",
    "sample_00000010": "fold1", "sample_00000011": "fold1", "sample_00000012": "fold1",
}

_FOLDS_SCRIPT = r"""
import json, sys
from pathlib import Path
from benchmarks.recipe import Recipe
from benchmarks.datasets import registry
from benchmarks.datasets.sets.mer2024 import import_release
plan = import_release(registry.get("mer24-tv"), Path(sys.argv[1]))
print(json.dumps({r.clip: f for f, parts in plan.folds.items() for r in parts["test"]}, sort_keys=True))
"""


def _mer24_raw(tmp_path: Path) -> Path:
    raw = tmp_path / "MER2024"
    (raw / "video-labeled").mkdir(parents=True)
    lines = ["name,discrete"] + [f"{c},{w}" for c, w in MER24_FIXTURE.items()]
    (raw / "label-disdim.csv").write_text("\n".join(lines) + "\n")
    for c in MER24_FIXTURE:
        (raw / "video-labeled" / f"{c}.mp4").write_bytes(b"")
    return raw


def _expected_mer24() -> dict:
    """The documented rule, independently: per class, sha256('mer24-tv:<clip>') order, fold k = position % 5."""
    out = {}
    for word in sorted(set(MER24_FIXTURE.values())):
        clips = sorted((c for c, w in MER24_FIXTURE.items() if w == word),
                       key=lambda c: hashlib.sha256(f"mer24-tv:{c}".encode()).hexdigest())
        out.update({c: f"fold{i % 5 + 1}" for i, c in enumerate(clips)})
    return out


def test_mer24_generated_folds_are_pinned_and_independent_of_the_process(tmp_path):
    raw = _mer24_raw(tmp_path)
    assert _expected_mer24() == MER24_PINNED
    got = []
    for hashseed in ("0", "4242"):
        env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONHASHSEED=hashseed, OMP_NUM_THREADS="1")
        out = subprocess.run([sys.executable, "-c", _FOLDS_SCRIPT, str(raw)], env=env, capture_output=True,
                             text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        got.append(json.loads(out.stdout))
    assert got[0] == got[1] == MER24_PINNED


_VAL_SCRIPT = r"""
import json
from pathlib import Path
from avfmae.data.manifest import ClipRecord
from avfmae.train.sources import Entry, split_by_subject
entries = [Entry(Path("."), ClipRecord(f"c{i}", f"c{i}.mp4", None, i % 2, f"subj{i % 7}"), i % 2) for i in range(21)]
train, val = split_by_subject(entries, 0.3, seed=5)
print(json.dumps(sorted({e.record.subject for e in val})))
"""
VAL_PINNED = ["subj3", "subj4"]   # pinned once; round(0.3 * 7) = 2 subjects carved out


def test_carved_validation_subjects_are_pinned_across_processes():
    got = []
    for hashseed in ("1", "777"):
        env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONHASHSEED=hashseed, OMP_NUM_THREADS="1")
        out = subprocess.run([sys.executable, "-c", _VAL_SCRIPT], env=env, capture_output=True, text=True,
                             timeout=120)
        assert out.returncode == 0, out.stderr
        got.append(json.loads(out.stdout))
    assert got[0] == got[1] == VAL_PINNED


# ----------------------------------------------------------------------------------------------- predictions
def test_compact_predictions_recompute_the_stored_scores():
    clips = ["a", "b", "c", "d"]
    y = [0, 1, 2, 2]
    probs = [[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.2, 0.2, 0.6], [0.5, 0.1, 0.4]]
    comp = compact_full = M.compact_predictions(clips, y, probs)
    assert json.loads(json.dumps(comp)) == comp and comp["clips"] == clips
    # argmax 0, 2, 2, 0 vs 0, 1, 2, 2: recall c0 1, c1 0, c2 1/2 -> UAR 50; WAR 2/4
    assert M.recompute(["uar", "war"], comp) == {"uar": pytest.approx(50.0), "war": pytest.approx(50.0)}
    top2 = M.compact_predictions(clips, y, probs, top_k=2)
    assert top2["top_k_classes"][1] == [2, 1] and top2["scores"][1] == [0.6, 0.3]
    assert M.recompute(["uar", "war"], top2) == M.recompute(["uar", "war"], compact_full)
    reg = M.compact_predictions(clips, [[1.0], [2.0], [3.0], [4.0]], [[2.0], [3.0], [4.0], [5.0]])
    assert M.recompute(["ccc"], reg)["ccc"] == pytest.approx(100 * 2 * 1.25 / (1.25 + 1.25 + 1))
    with pytest.raises(ValueError, match="3 targets"):
        M.compact_predictions(clips, y[:3], probs)


def test_bootstrap_interval_by_hand():
    # 4 clips, 3 right: a resample's WAR is k/4 with k ~ Binomial(4, 3/4): P(k<=0) = 1/256 = 0.4 %,
    # P(k<=1) = 13/256 = 5.1 % -> the 2.5 % quantile is 25; P(k=4) = 81/256 = 31.6 % -> the 97.5 % quantile is 100
    y, pred = [0, 1, 0, 1], [0, 1, 0, 0]
    assert M.bootstrap_ci("war", y, pred, n_boot=4000, seed=1) == (25.0, 100.0)
    assert M.bootstrap_ci("war", [0, 1], [0, 1], n_boot=200) == (100.0, 100.0)
    # clusters: subject A (3 clips, all right), subject B (1 clip, wrong); resampling subjects gives only
    # {A, A} -> 100, {A, B} -> 3/4, {B, B} -> 0; resampling clips would also give 25 and 50
    y, pred, subj = [0, 1, 0, 1], [0, 1, 0, 0], ["A", "A", "A", "B"]
    reps = M.bootstrap("war", y, pred, clusters=subj, n_boot=400, seed=0)
    assert set(np.unique(reps)) == {0.0, 75.0, 100.0}
    assert set(np.unique(M.bootstrap("war", y, pred, n_boot=400, seed=0))) > {0.0, 75.0, 100.0}
    assert np.array_equal(reps, M.bootstrap("war", y, pred, clusters=subj, n_boot=400, seed=0))
    # the interval is the 2.5 % and 97.5 % percentiles of the replicates (checked on a continuous case)
    rng = np.random.default_rng(0)
    t, p = rng.normal(size=40), rng.normal(size=40)
    reps = M.bootstrap("mae", t, p, n_boot=300, seed=2)
    assert M.bootstrap_ci("mae", t, p, n_boot=300, seed=2) == tuple(np.percentile(reps, [2.5, 97.5]))
    # the generic path (regression): a constant error of 1 has MAE 1 in every resample
    t = np.arange(6, dtype=float)
    lo, hi = M.bootstrap_ci("mae", t, t + 1.0, n_boot=100)
    assert (lo, hi) == (1.0, 1.0)


# ----------------------------------------------------------------------------------------------- end to end
# Tiny datasets registered for the test, scored through evaluate.score, stored with their per-clip predictions,
# and read back as leaderboard rows (value, std and the 95 % bootstrap interval), all expected values by hand.
def _hand_ccc(t, p) -> float:
    """Mean over target columns of 2 cov / (var_t + var_p + (mean_t - mean_p)^2), population moments, percent."""
    t, p = np.asarray(t, float), np.asarray(p, float)
    out = []
    for j in range(t.shape[1]):
        a, b = t[:, j], p[:, j]
        cov = np.mean((a - a.mean()) * (b - b.mean()))
        out.append(2 * cov / (np.mean((a - a.mean()) ** 2) + np.mean((b - b.mean()) ** 2) + (a.mean() - b.mean()) ** 2))
    return 100 * float(np.mean(out))


def _hand_uf1_uar(t, p) -> tuple[float, float]:
    """UF1: mean F1 over the classes in truth or prediction; UAR: mean recall over the classes in truth."""
    t, p = np.asarray(t), np.asarray(p)
    f1 = [2 * np.sum((t == c) & (p == c)) / (np.sum(t == c) + np.sum(p == c)) for c in np.union1d(t, p)]
    rec = [np.mean(p[t == c] == c) for c in np.unique(t)]
    return 100 * float(np.mean(f1)), 100 * float(np.mean(rec))


def _row(text: str, title: str) -> list[str]:
    lines = [ln for ln in text.splitlines() if ln.startswith(f"| {title}")]
    assert len(lines) == 1, text
    return [c.strip() for c in lines[0].strip("|").split("|")]


def _reg_spec():
    from benchmarks.datasets.spec import DatasetSpec
    return DatasetSpec(name="reg-fix", title="Regression fixture", task="DEA", labels=("arousal", "valence"),
                       folds=("f1", "f2"), fold_scheme="subject-independent", metrics=("ccc", "mae"),
                       main_metric="ccc", regression=True)


def test_regression_fixture_scored_by_ccc_end_to_end(tmp_path, monkeypatch):
    from benchmarks import leaderboard
    from scoring_fixtures import put_run, use_specs, write_fold

    spec = _reg_spec()
    store = use_specs(monkeypatch, tmp_path, spec)
    rng = np.random.default_rng(3)
    # fold f1 tests subjects A and B (3 clips each), fold f2 subject C; the training subjects are others
    subjects = {"f1": ["A"] * 3 + ["B"] * 3, "f2": ["C"] * 3}
    data = {}
    for fold, subj in subjects.items():
        t = rng.uniform(-1, 1, (len(subj), 2)).round(3)
        p = (t + rng.normal(0, 0.4, t.shape)).round(3)
        clips = [f"{fold}_{i}" for i in range(len(subj))]
        write_fold(spec, fold, [(c, tuple(x), s) for c, x, s in zip(clips, t, subj)],
                   [(f"{fold}_tr{i}", (0.0, 0.0), f"D{fold}") for i in range(3)])
        put_run(store, spec, fold, clips, t.tolist(), p.tolist())
        data[fold] = (t, p)
    per_fold = [_hand_ccc(*data[f]) for f in ("f1", "f2")]
    mae = np.mean([np.mean(np.abs(t - p)) for t, p in data.values()])
    # subject bootstrap within each fold: f1 draws {A,A}, {A,B}, {B,B} (a duplicated subject leaves CCC as it
    # is), f2 always {C}; each extreme has 1/4 of the mass, so the 2.5 % / 97.5 % percentiles are the extremes
    t1, p1 = data["f1"]
    c_f1 = [_hand_ccc(t1[:3], p1[:3]), _hand_ccc(t1[3:], p1[3:]), per_fold[0]]
    low, high = (min(c_f1) + per_fold[1]) / 2, (max(c_f1) + per_fold[1]) / 2
    files, problems = leaderboard.render(store)
    assert problems == []
    cells = _row(files["dea.md"], "Regression fixture")
    assert cells[-1] == "subjects"
    assert f"CCC {np.mean(per_fold):.2f} ± {np.std(per_fold, ddof=1):.2f} [{low:.2f}, {high:.2f}]" in cells[4], cells
    assert f"MAE {mae:.2f}" in cells[4]
    assert low < high


def _loso_fix():
    from benchmarks.datasets.spec import DatasetSpec
    return DatasetSpec(name="loso-fix", title="LOSO fixture", task="MER", labels=("neg", "pos", "sur"),
                       folds=("s1", "s2"), fold_scheme="LOSO", metrics=("uf1", "uar"), main_metric="uf1",
                       fold_aggregate="pool", modalities=("video",))


LOSO_FOLDS = {"s1": ([0, 0, 1, 1], [0, 0, 1, 1]),      # subject 1: 4 right
              "s2": ([2, 2], [2, 0])}                   # subject 2: one of two surprises called negative


def put_loso(store, spec, preds=LOSO_FOLDS, **kw):
    from scoring_fixtures import put_run, write_fold

    eye = np.eye(3) * 0.8 + 0.1
    for fold, (y, pred) in preds.items():
        clips = [f"{fold}_{i}" for i in range(len(y))]
        other = "s2" if fold == "s1" else "s1"
        write_fold(spec, fold, [(c, t, fold) for c, t in zip(clips, y)], [(f"{other}_x", 0, other)])
        put_run(store, spec, fold, clips, y, eye[pred].tolist(), **kw)


def test_loso_fixture_pooled_end_to_end(tmp_path, monkeypatch):
    from benchmarks import leaderboard
    from scoring_fixtures import use_specs

    spec = _loso_fix()
    store = use_specs(monkeypatch, tmp_path, spec)
    put_loso(store, spec)
    t = np.concatenate([LOSO_FOLDS[f][0] for f in ("s1", "s2")])
    p = np.concatenate([LOSO_FOLDS[f][1] for f in ("s1", "s2")])
    uf1, uar = _hand_uf1_uar(t, p)                                          # pooled: 82.22 and 83.33
    s1, s2 = _hand_uf1_uar(*LOSO_FOLDS["s1"]), _hand_uf1_uar(*LOSO_FOLDS["s2"])
    # pooled subject bootstrap: {s1,s1}, {s1,s2}, {s2,s2}; the extremes carry 1/4 of the mass each
    lo_f1, hi_f1 = min(uf1, s1[0], s2[0]), max(uf1, s1[0], s2[0])
    lo_ar, hi_ar = min(uar, s1[1], s2[1]), max(uar, s1[1], s2[1])
    files, problems = leaderboard.render(store)
    assert problems == []
    cells = _row(files["mer.md"], "LOSO fixture")
    assert cells[4] == f"UF1 {uf1:.2f} [{lo_f1:.2f}, {hi_f1:.2f}]; UAR {uar:.2f} [{lo_ar:.2f}, {hi_ar:.2f}]", cells
    assert cells[-1] == "subjects"
    assert (lo_f1, hi_f1) == (pytest.approx(100 / 3), 100.0)
    # deterministic: rendering twice gives the same tables (seeded bootstrap), so `leaderboard check` is stable
    assert leaderboard.render(store)[0] == files
