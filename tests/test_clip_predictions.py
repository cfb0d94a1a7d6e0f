"""Per-clip predictions in the store (issue #10 section 3): the audit recomputes every score from them and
catches a tampered one; `benchmarks.compare` is a paired bootstrap on the same clips (and refuses other clips);
ablation tables mark significant differences. Expected values are worked out in the test."""
from __future__ import annotations

import json

import numpy as np
import pytest

from benchmarks.recipe import Recipe
from scoring_fixtures import use_specs
from test_scoring_path import LOSO_FOLDS, _hand_uf1_uar, _loso_fix, put_loso


@pytest.fixture()
def loso(tmp_path, monkeypatch):
    spec = _loso_fix()
    return spec, use_specs(monkeypatch, tmp_path, spec)


def test_results_keep_their_clips_subjects_and_independence(loso):
    spec, store = loso
    put_loso(store, spec)
    (rec,) = [r for r in store.iter_results() if r["key"].fold == "s2"]
    comp = rec["predictions"]
    assert comp["clips"] == ["s2_0", "s2_1"] and comp["targets"] == [2, 2]
    assert comp["subjects"] == ["s2", "s2"] and comp["subject_independent"] is True
    assert np.argmax(comp["scores"], axis=1).tolist() == [2, 0]


def test_a_fold_whose_test_subject_also_trains_is_not_subject_independent(loso):
    from benchmarks.clip_predictions import stored_predictions
    from scoring_fixtures import write_fold

    spec, _ = loso
    write_fold(spec, "s1", [("a", 0, "x"), ("b", 1, "y")], [("c", 0, "y")])
    assert stored_predictions(spec, "s1", ["a", "b"], [0, 1], np.eye(3)[[0, 1]])["subject_independent"] is False
    write_fold(spec, "s1", [("a", 0, "x"), ("b", 1, "")], [("c", 0, "y")])    # a clip without a subject
    assert stored_predictions(spec, "s1", ["a", "b"], [0, 1], np.eye(3)[[0, 1]])["subject_independent"] is False


def test_audit_passes_a_clean_store_and_catches_a_tampered_score(loso, capsys):
    from benchmarks import audit

    spec, store = loso
    put_loso(store, spec)
    assert audit.main([]) == 0
    assert "2 results, 0 mismatching" in capsys.readouterr().out
    (key,) = [r["key"] for r in store.iter_results() if r["key"].fold == "s2"]
    path = store.path(key)
    rec = json.loads(path.read_text())
    true_uf1 = _hand_uf1_uar(*LOSO_FOLDS["s2"])[0]
    assert rec["scores"]["uf1"] == pytest.approx(true_uf1)
    rec["scores"]["uf1"] = true_uf1 + 0.01          # a small edit of the stored number
    path.write_text(json.dumps(rec))
    assert audit.main([]) == 1
    out = capsys.readouterr().out
    assert "MISMATCH" in out and f"uf1: stored {true_uf1 + 0.01:.6f}, recomputed {true_uf1:.6f}" in out
    # tampered predictions (one clip's scores) are caught as well
    rec["scores"]["uf1"] = true_uf1
    rec["predictions"]["scores"][1] = [0.1, 0.1, 0.8]
    path.write_text(json.dumps(rec))
    assert audit.main([]) == 1
    assert "uf1: stored" in capsys.readouterr().out


def test_audit_lists_results_without_predictions_and_strict_fails_them(loso, capsys):
    from benchmarks import audit
    from benchmarks.runkey import RunKey

    spec, store = loso
    store.put(RunKey("m", "", spec.name, "rev", "paper", "1", "s1", 0), {"scores": {"uf1": 50.0}})
    assert audit.main([]) == 0
    assert "has no stored predictions" in capsys.readouterr().out
    assert audit.main(["--strict"]) == 1


WORSE = {"s1": ([0, 0, 1, 1], [0, 1, 1, 1]),   # B misses one clip of subject 1 ...
         "s2": ([2, 2], [0, 0])}               # ... and both of subject 2


def _expected_diff():
    """A - B per bootstrap draw of the two subjects: {s1,s1} -> s1 alone, {s2,s2} -> s2 alone, {s1,s2} pooled."""
    def uf1(preds, folds):
        return _hand_uf1_uar(np.concatenate([preds[f][0] for f in folds]),
                             np.concatenate([preds[f][1] for f in folds]))[0]
    d = {fs: uf1(LOSO_FOLDS, fs) - uf1(WORSE, fs) for fs in (("s1",), ("s2",), ("s1", "s2"))}
    return d[("s1", "s2")], min(d.values()), max(d.values())


def test_compare_is_a_paired_bootstrap_on_the_same_clips(loso, capsys):
    from benchmarks import compare

    spec, store = loso
    put_loso(store, spec, model="a")
    put_loso(store, spec, WORSE, model="b")
    diff, low, high = _expected_diff()
    assert low > 0                                   # B is worse on every subject
    assert compare.main(["a", "b", "--n-boot", "400"]) == 0
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if ln.startswith("| loso-fix"))
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert cells[4] == f"{diff:+.2f} *"
    assert cells[5] == f"[{low:+.2f}, {high:+.2f}]"
    assert cells[6] == "<0.0025" and cells[7] == "subjects"
    # the other way round: the same interval mirrored
    compare.main(["b", "a", "--n-boot", "400"])
    assert f"[{-high:+.2f}, {-low:+.2f}]" in capsys.readouterr().out


def test_compare_refuses_different_clips(loso, capsys):
    from benchmarks import compare

    spec, store = loso
    put_loso(store, spec, model="a")
    put_loso(store, spec, {"s1": LOSO_FOLDS["s1"], "s2": ([2], [2])}, model="c")   # one clip of s2 skipped
    assert compare.main(["a", "c"]) == 1
    out = capsys.readouterr().out
    assert "loso-fix: refused" in out and "same test clips" in out and "| loso-fix" not in out


def test_compare_tells_variants_of_one_model_apart(loso, capsys):
    from benchmarks import compare

    spec, store = loso
    put_loso(store, spec, model="m", recipe=Recipe.parse({"epochs": 2}), config_hash="cfgA")
    put_loso(store, spec, WORSE, model="m", config_hash="cfgB")
    diff, _, _ = _expected_diff()
    assert compare.main(["m", "m", "--recipe-a", "epochs=2", "--recipe-b", "default"]) == 0
    assert f"{diff:+.2f} *" in capsys.readouterr().out
    assert compare.main(["m", "m", "--config-a", "cfgB", "--config-b", "cfgA"]) == 0
    assert f"{-diff:+.2f} *" in capsys.readouterr().out
    assert compare.main(["m", "m"]) == 1                     # no filter: both sides pick the same runs
    assert "select the same runs" in capsys.readouterr().out


def test_ablation_tables_mark_significant_differences_to_the_first_line(loso):
    from benchmarks import leaderboard

    spec, store = loso
    put_loso(store, spec, model="m", recipe=Recipe.parse({"grid": "g"}), config_hash="cfgA")
    put_loso(store, spec, WORSE, model="m", recipe=Recipe.parse({"grid": "g", "epochs": 2}), config_hash="cfgB")
    put_loso(store, spec, model="m", recipe=Recipe.parse({"grid": "g", "epochs": 3}), config_hash="cfgC")
    files, _ = leaderboard.render(store)
    table = files["ablations/g.md"]
    lines = {ln.split("|")[2].strip().split(" [")[0]: ln.split("|")[3].strip()
             for ln in table.splitlines() if ln.startswith("| m ")}
    uf1 = _hand_uf1_uar(np.concatenate([LOSO_FOLDS[f][0] for f in ("s1", "s2")]),
                        np.concatenate([LOSO_FOLDS[f][1] for f in ("s1", "s2")]))[0]
    assert lines["stages=3"] == f"{uf1:.2f}"                  # the reference line (a grid's arm names its stages)
    assert lines["stage3.epochs=2,stages=3"].endswith(" *")          # worse on every subject
    assert lines["stage3.epochs=3,stages=3"] == f"{uf1:.2f}"         # same predictions: no difference
    assert "`*`: differs significantly" in table


def test_a_subject_drawn_twice_counts_its_videos_twice():
    from avfmae.metrics.intervals import Run, bootstrap_rule

    # three subjects with one video of two clips each: A and B right, C wrong (per-video scoring, WAR)
    clips = ("a1", "a2", "b1", "b2", "c1", "c2")
    scores = np.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8], [0.4, 0.6], [0.7, 0.3], [0.8, 0.2]])
    run = Run(clips, np.array([0, 0, 1, 1, 1, 1]), scores, ("A", "A", "B", "B", "C", "C"),
              ("va", "va", "vb", "vb", "vc", "vc"))
    point, reps = bootstrap_rule("war", {("f", 0): run}, "mean", n_boot=400, seed=0, num_classes=2)
    assert point == pytest.approx(200 / 3)
    # a draw of 3 subjects holds 3 videos (A, A, C -> 2 of 3 right), never 2 merged ones (which would give 50)
    values = set(np.round(np.unique(reps), 6))
    assert values <= {0.0, round(100 / 3, 6), round(200 / 3, 6), 100.0} and round(200 / 3, 6) in values


def test_seeds_of_a_fold_with_different_clips_get_no_interval_not_a_crash(loso):
    from benchmarks import leaderboard

    spec, store = loso
    put_loso(store, spec)
    put_loso(store, spec, {"s1": LOSO_FOLDS["s1"], "s2": ([2], [2])}, seed=1)     # seed 1 skipped a clip of s2
    files, problems = leaderboard.render(store)
    line = next(ln for ln in files["mer.md"].splitlines() if ln.startswith("| LOSO fixture"))
    assert "[" not in line.split("|")[5] and line.rstrip("|").split("|")[-1].strip() == "–"
