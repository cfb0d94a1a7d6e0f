"""avfmae.metrics against values worked out by hand (comments show the arithmetic)."""
import math

import numpy as np
import pytest

from avfmae import metrics as M

# y_true has 3 of class 0, 2 of class 1, 1 of class 2
Y_TRUE = [0, 0, 0, 1, 1, 2]
Y_PRED = [0, 0, 1, 1, 2, 2]
# confusion (rows true): [[2,1,0],[0,1,1],[0,0,1]]
# recall:    c0 2/3, c1 1/2, c2 1/1          -> UAR = (2/3 + 1/2 + 1)/3 = 0.72222
# accuracy:  4/6                             -> WAR = 66.667
# precision: c0 2/2, c1 1/2, c2 1/2
# F1:        c0 2*1*(2/3)/(5/3) = 0.8, c1 0.5, c2 2*0.5*1/1.5 = 2/3
# macro F1 = (0.8 + 0.5 + 2/3)/3 = 0.655556; weighted F1 = (3*0.8 + 2*0.5 + 1*2/3)/6 = 0.677778


def test_classification_by_hand():
    got = M.compute(["uar", "war", "wf1", "mf1", "uf1"], Y_TRUE, Y_PRED, with_confusion=True)
    assert got["uar"] == pytest.approx(100 * (2 / 3 + 1 / 2 + 1) / 3)
    assert got["uar"] == pytest.approx(72.2222, abs=1e-4)
    assert got["war"] == pytest.approx(66.6667, abs=1e-4)
    assert got["mf1"] == pytest.approx(65.5556, abs=1e-4)
    assert got["uf1"] == got["mf1"]
    assert got["wf1"] == pytest.approx(67.7778, abs=1e-4)
    assert got["confusion"] == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]


def test_scores_are_argmaxed_and_aliases():
    scores = np.eye(3)[Y_PRED] * 0.7 + 0.1
    got = M.compute(["UAR", "acc", "weighted_f1"], Y_TRUE, scores, with_confusion=True)
    assert got["UAR"] == pytest.approx(72.2222, abs=1e-4)
    assert got["acc"] == pytest.approx(66.6667, abs=1e-4)
    assert got["weighted_f1"] == pytest.approx(67.7778, abs=1e-4)
    assert np.asarray(got["confusion"]).shape == (3, 3)


def test_uar_ignores_classes_absent_from_y_true():
    # class 2 is predicted once but never true: recall over {0, 1} only -> (1/2 + 2/2)/2 = 75
    # (sklearn's recall_score(average="macro") would give (0.5 + 1 + 0)/3 = 50)
    t, p = [0, 0, 1, 1], [0, 2, 1, 1]
    assert M.uar(t, p) == pytest.approx(75.0)
    # macro F1 keeps sklearn's label set {0,1,2}: F1 c0 = 2/3, c1 = 1, c2 = 0 -> 55.556
    assert M.mf1(t, p) == pytest.approx(100 * (2 / 3 + 1 + 0) / 3)


def test_from_confusion_matches_label_metrics():
    names = ["uar", "war", "wf1", "mf1", "uf1"]
    cm = M.confusion(Y_TRUE, Y_PRED, num_classes=4)  # an unused 4th class must not change anything
    assert M.from_confusion(names, cm) == pytest.approx(M.compute(names, Y_TRUE, Y_PRED))
    rng = np.random.default_rng(0)
    t, p = rng.integers(0, 5, 200), rng.integers(0, 5, 200)
    t[t == 3] = 4  # class 3 only ever predicted
    assert M.from_confusion(names, M.confusion(t, p, 5)) == pytest.approx(M.compute(names, t, p))


def test_pooled_loso_differs_from_mean_of_folds():
    # fold A: all 4 correct (classes 0,1); fold B: y_true [2,2], y_pred [2,0]
    fold_a = M.confusion([0, 0, 1, 1], [0, 0, 1, 1], 3)
    fold_b = M.confusion([2, 2], [2, 0], 3)
    pooled = M.pooled(["uf1", "uar"], [fold_a, fold_b])
    # pooled cm [[2,0,0],[0,2,0],[1,0,1]]: F1 c0 = 4/5, c1 = 1, c2 = 2/3 -> UF1 = 82.222; recall 1,1,0.5 -> 83.333
    assert pooled["uf1"] == pytest.approx(100 * (0.8 + 1 + 2 / 3) / 3)
    assert pooled["uar"] == pytest.approx(100 * 2.5 / 3)


def test_ccc_and_pcc_by_hand():
    t, p = [1, 2, 3, 4], [2, 3, 4, 5]
    # means 2.5/3.5, var 1.25 each, cov 1.25: CCC = 2*1.25/(1.25+1.25+1) = 0.714286; PCC = 1
    got = M.compute(["ccc", "pcc"], t, p)
    assert got["ccc"] == pytest.approx(71.4286, abs=1e-4)
    assert got["pcc"] == pytest.approx(100.0)
    assert M.ccc([1, 2, 3], [3, 2, 1])[0] == pytest.approx(-100.0)  # var 2/3, cov -2/3 -> -1
    assert M.ccc([1, 1, 1], [1, 1, 1])[0] == 0.0  # constant: defined as 0, not NaN


def test_regression_per_dimension():
    t = np.array([[1, 1], [2, 3], [3, 2], [4, 4]], dtype=float)
    p = np.array([[2, 4], [3, 3], [4, 2], [5, 1]], dtype=float)
    got = M.compute(["ccc"], t, p, targets=["arousal", "valence"])
    assert got["ccc_arousal"] == pytest.approx(71.4286, abs=1e-4)
    # valence: t [1,3,2,4] mean 2.5 var 1.25; p [4,3,2,1] mean 2.5 var 1.25; cov = (-1.5*1.5 + .5*.5 - .5*-.5
    #          + 1.5*-1.5)/4 = -1.0 -> CCC = -2/2.5 = -0.8
    assert got["ccc_valence"] == pytest.approx(-80.0)
    assert got["ccc"] == pytest.approx((71.4286 - 80.0) / 2, abs=1e-4)


def test_grouped_scoring_avcaffe():
    ids = ["aiim001_task_1_0001.mp4", "aiim001_task_1_0002.mp4", "aiim002_task_3_0001.mp4",
           "aiim002_task_3_0002.mp4"]
    groups = [M.participant_task(i) for i in ids]
    assert groups == ["aiim001_task_1", "aiim001_task_1", "aiim002_task_3", "aiim002_task_3"]
    assert M.group_ids(ids, r"^aiim\d+_task_\d+") == groups
    y = [0, 0, 1, 1]
    # clip-level: clip 2 and 3 wrong/right; grouped: mean of [.4,.6]+[.9,.1] = [.65,.35] -> class 0 (right),
    # mean of [.6,.4]+[.2,.8] = [.4,.6] -> class 1 (right)
    scores = [[0.4, 0.6], [0.9, 0.1], [0.6, 0.4], [0.2, 0.8]]
    assert M.compute(["war"], y, scores)["war"] == pytest.approx(50.0)
    assert M.compute(["war", "uar"], y, scores, groups=groups) == {"war": 100.0, "uar": 100.0}
    with pytest.raises(ValueError, match="mixes labels"):
        M.compute(["war"], [0, 1, 1, 1], scores, groups=groups)


def test_aggregate_mean_of_folds_then_seeds():
    vals = {("1", 0): 60.0, ("1", 1): 62.0, ("2", 0): 70.0, ("2", 1): 74.0, ("3", 0): 50.0, ("3", 1): 50.0}
    agg = M.aggregate(vals, "uar")
    # per fold: 61, 72, 50 -> mean 61.0; per seed: (60+70+50)/3 = 60, (62+74+50)/3 = 62 -> std_seed = sqrt(2)
    assert agg.mean == pytest.approx(61.0)
    assert agg.per_fold == {"1": 61.0, "2": 72.0, "3": 50.0}
    assert agg.std_fold == pytest.approx(float(np.std([61, 72, 50], ddof=1)))
    assert agg.std_seed == pytest.approx(math.sqrt(2))
    assert agg.std == agg.std_seed
    assert agg.complete and agg.n_folds == 3 and agg.n_seeds == 2


def test_aggregate_incomplete():
    agg = M.aggregate([("1", 0, 60.0), ("2", 0, 70.0)], "uar", folds=["1", "2", "3"], seeds=[0])
    assert not agg.complete and agg.missing == (("3", 0),)
    assert agg.mean == pytest.approx(65.0)  # still computed; consumers must check `complete`
    ragged = M.aggregate({("1", 0): 1.0, ("1", 1): 2.0, ("2", 0): 3.0}, "war")
    assert not ragged.complete and ragged.missing == (("2", 1),)
    nan = M.aggregate({("1", 0): float("nan")}, "war", folds=["1"], seeds=[0])
    assert not nan.complete and math.isnan(nan.mean)
    single = M.aggregate({("1", 0): 40.0}, "war")
    assert single.std == 0.0 and single.complete


def test_errors_are_clear():
    with pytest.raises(ValueError, match="unknown metric"):
        M.compute(["nope"], [0], [0])
    with pytest.raises(ValueError, match="mixing"):
        M.compute(["uar", "ccc"], [0, 1], [0, 1])
    with pytest.raises(ValueError, match="equal length"):
        M.uar([0, 1], [0])
