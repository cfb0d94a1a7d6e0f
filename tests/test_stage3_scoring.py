"""Stage 3's path from outputs to a number (issue #10 section 4), with torch: best-epoch selection, multi-view
averaging, layer decay in the optimizer it really builds, the regression losses and head activation, and the
training path's running-cell mask. Expected values are computed here by hand or with a few lines of numpy."""
from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from avfmae import metrics as M
from avfmae.train import stage3
from avfmae.train.distributed import DistInfo


# ----------------------------------------------------------------------------------------------- best epoch
def test_is_new_best_keeps_the_best_and_the_earlier_of_ties():
    assert stage3.is_new_best("war", 40.0, None)
    assert stage3.is_new_best("war", 50.0, {"epoch": 1, "value": 40.0})
    assert not stage3.is_new_best("war", 30.0, {"epoch": 1, "value": 40.0})      # worse: keep
    assert not stage3.is_new_best("war", 40.0, {"epoch": 1, "value": 40.0})      # tie: keep the earlier
    assert stage3.is_new_best("mse", 0.2, {"epoch": 1, "value": 0.3})            # errors: lower is better
    assert not stage3.is_new_best("mse", 0.4, {"epoch": 1, "value": 0.3})
    assert not stage3.is_new_best("ccc", float("nan"), {"epoch": 1, "value": 0.3})
    # a history: the first maximum (index 1), and for an error the first minimum (index 2)
    assert M.best_index("uar", [40.0, 70.0, None, 70.0, 55.0]) == 1
    assert M.best_index("mae", [0.5, 0.4, 0.3, 0.3]) == 2


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A 3-epoch tiny stage-3 run whose per-epoch validation WAR is scripted (40, 70, 70) and whose optimizer is
    kept: the selected epoch must be 2 (the best; of the tie 2/3 the earlier)."""
    from train_fixtures import tiny_demo, tiny_stage3

    data = tiny_demo()
    work = tmp_path_factory.mktemp("s3-select")
    scripted = iter([40.0, 70.0, 70.0])
    real_scores, real_build = stage3.scores, stage3.build_optimizer
    built = {}

    def fake_scores(pred, regression, names=()):
        out = real_scores(pred, regression, names)
        if names:                        # the per-epoch validation call (the test-set calls pass no names)
            out["war"] = next(scripted)
        return out

    def spy_build(model, *args, **kwargs):
        built["model"], built["opt"] = model, real_build(model, *args, **kwargs)
        return built["opt"]

    mp = pytest.MonkeyPatch()
    mp.setenv("AVF_ZOO_DIR", str(work / "zoo"))
    mp.setattr(stage3, "scores", fake_scores)
    mp.setattr(stage3, "build_optimizer", spy_build)
    try:
        cfg = tiny_stage3(data, epochs=3, cache_dir=str(work / "cache"), mixup=0.0, cutmix=0.0)
        result = stage3.run_stage3(cfg, work / "run")
    finally:
        mp.undo()
    return result, built, work / "run", cfg


def test_stage3_selects_the_best_epoch_end_to_end(tiny_run):
    result, _, work, _ = tiny_run
    vals = [e["val"]["war"] for e in result["epochs"]]
    assert vals == [40.0, 70.0, 70.0]
    assert result["selected_epoch"] == 2
    assert torch.load(work / "best.pt", map_location="cpu", weights_only=True)["epoch"] == 2
    # the selected model (epoch 2) is not the last one (epoch 3): its test predictions were made separately
    assert result["predictions"]["selected"] is not result["predictions"]["last"]


def test_stage3_optimizer_uses_layer_decay(tiny_run):
    _, built, _, cfg = tiny_run
    model, opt = built["model"], built["opt"]
    assert cfg.layer_decay == 0.75
    c = model.cfg
    n_layers = max(c.depth, c.depth_audio) + c.fusion_depth          # micro: max(4, 4) + 2 = 6
    top = n_layers + 1
    group_of = {id(p): g for g in opt.param_groups for p in g["params"]}
    params = dict(model.named_parameters())
    # layer ids by hand: patch embeddings 0, encoder block k -> k + 1, fusion block k -> max depth + k + 1,
    # the head and everything else n_layers + 1
    expected = {"encoder.patch_embed.proj.weight": 0, "encoder.blocks.0.first_attn.q_bias": 1,
                "encoder_fusion.blocks.0.cross_attn.q.weight": max(c.depth, c.depth_audio) + 1,
                "head.weight": top}
    head_lr = group_of[id(params["head.weight"])]["lr"]
    assert head_lr > 0
    for name, lid in expected.items():
        g = group_of[id(params[name])]
        assert g["lr_scale"] == pytest.approx(0.75 ** (top - lid)), name
        assert g["lr"] == pytest.approx(head_lr * 0.75 ** (top - lid)), name   # the schedule keeps the scale


# ----------------------------------------------------------------------------------------------- multi-view
class _ViewModel(torch.nn.Module):
    """Logits from the view's constant video value x: [x, 0, -x] (audio ignored)."""

    def forward(self, video, audio):
        x = video.flatten(1).mean(1)
        return torch.stack([x, torch.zeros_like(x), -x], dim=1)


def _ctx():
    cfg = SimpleNamespace(amp="off", batch_size=2, num_workers=0, modalities=("video", "audio"))
    info = DistInfo()
    return SimpleNamespace(cfg=cfg, info=info, device=info.device, silent=0.0)


def _softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


def test_predict_averages_softmax_over_all_four_views(monkeypatch):
    from avfmae.train import common

    # 2 clips x 4 views (segment-major: (0,0), (0,1), (1,0), (1,1)), each view a constant value
    values = np.array([[0.0, 1.0, 2.0, -3.0], [0.5, 0.5, -1.0, 4.0]])
    video = torch.tensor(values, dtype=torch.float32)[:, :, None, None, None, None].expand(2, 4, 3, 2, 4, 4)
    batch = {"video": video.contiguous(), "audio": torch.zeros(2, 4, 1, 8, 4), "target": torch.tensor([0, 2]),
             "index": torch.tensor([0, 1]), "clip": ["a", "b"]}
    monkeypatch.setattr(common, "eval_batches", lambda *a, **k: iter([batch]))
    out = common.predict(_ctx(), _ViewModel(), ds=None)
    expected = [np.mean([_softmax(np.array([x, 0.0, -x])) for x in row], axis=0) for row in values]
    assert np.allclose(out["probs"], expected, atol=1e-6)
    # neither the first view alone nor the softmax of the mean logit
    assert not np.allclose(out["probs"][0], _softmax(np.array([0.0, 0.0, 0.0])), atol=1e-3)
    assert not np.allclose(out["probs"][1], _softmax(np.array([1.0, 0, -1.0])), atol=1e-3)
    assert out["clips"] == ["a", "b"] and out["targets"] == [0, 2]
    # regression: the activation is applied per view, then the mean over the views
    reg = common.predict(_ctx(), _ViewModel(), ds=None, regression=True, activation=torch.sigmoid)
    sig = 1 / (1 + np.exp(-values))
    assert np.allclose(np.asarray(reg["outputs"])[:, 0], sig.mean(1), atol=1e-6)


def test_the_model_contract_asks_for_2x2_views_in_segment_major_order():
    import zoo
    from avfmae.data.views import plan_test_views
    from avfmae.train.inputs import preprocess_config

    pcfg = preprocess_config(zoo.get_spec("avfmae-micro"))
    assert (pcfg.num_segments, pcfg.num_crops) == (2, 2)
    plans = plan_test_views(200, 16000 * 8, pcfg)
    assert [(p.segment, p.crop) for p in plans] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert plans[0].frame_indices[0] < plans[2].frame_indices[0]     # segment 1 starts later in the clip


# ----------------------------------------------------------------------------------------------- regression
def test_regression_losses_by_hand():
    pred = torch.tensor([[2.0, 4.0], [3.0, 3.0], [4.0, 2.0], [5.0, 1.0]])
    target = torch.tensor([[1.0, 1.0], [2.0, 3.0], [3.0, 2.0], [4.0, 4.0]])
    # column 0: CCC 2*1.25/(1.25+1.25+1) = 0.714286; column 1: cov -1.0, vars 1.25 -> -0.8; loss 1 - mean
    assert float(stage3.regression_loss("ccc", pred, target)) == pytest.approx(1 - (0.714286 - 0.8) / 2, abs=1e-5)
    # squared errors: col 0 four 1s, col 1: 9, 0, 0, 9 -> (4 + 18)/8; absolute: (4 + 3+0+0+3)/8
    assert float(stage3.regression_loss("mse", pred, target)) == pytest.approx(22 / 8)
    assert float(stage3.regression_loss("l1", pred, target)) == pytest.approx(10 / 8)
    # the torch loss is 1 - the numpy CCC of avfmae.metrics on random data
    g = torch.Generator().manual_seed(0)
    p, t = torch.randn(50, 3, generator=g), torch.randn(50, 3, generator=g) * 2 + 1
    numpy_ccc = M.ccc(t.numpy(), p.numpy()) / 100
    assert float(stage3.ccc_loss(p, t)) == pytest.approx(1 - numpy_ccc.mean(), abs=1e-5)


def test_head_activations():
    x = torch.tensor([-2.0, 0.0, 3.0])
    assert stage3._ACT[None] is None
    assert np.allclose(stage3._ACT["sigmoid"](x).numpy(), [1 / (1 + math.exp(2)), 0.5, 1 / (1 + math.exp(-3))])
    assert np.allclose(stage3._ACT["tanh"](x).numpy(), np.tanh([-2.0, 0.0, 3.0]))
    assert np.allclose(stage3._ACT["relu"](x).numpy(), [0.0, 0.0, 3.0])


# ----------------------------------------------------------------------------------------------- running cell
def _official_running_cell(frames, height, width, ratio):
    """The VideoMAE-V2 running cell, written out: a queue [1]*m + [0]*(4-m) whose pointer starts at `phase` and
    advances before each frame; the frame's 2x2 cell is the queue read from the pointer, tiled over the frame."""
    m = int(4 * ratio)
    queue = [1] * m + [0] * (4 - m)
    tables = []
    for phase in range(4):
        ptr, rows = phase, []
        for _ in range(frames):
            ptr += 1
            cell = [queue[(i + ptr) % 4] for i in range(4)]
            frame = np.tile(np.array(cell).reshape(2, 2), (height // 2, width // 2))
            rows.append(frame.reshape(-1))
        tables.append(np.stack(rows))
    return np.stack(tables).astype(bool)     # (4, T, H*W)


def test_torch_running_cell_masks_are_the_numpy_cells():
    from avfmae.models.masking import RunningCellMaskGenerator, torch_running_cell_masks

    # by hand on a 2-frame 2x2 grid: phase 0 reads the queue [1,1,0,0] from 1 then 2 -> [1,0,0,1], [0,0,1,1]
    hand = _official_running_cell(2, 2, 2, 0.5)
    assert hand[0].astype(int).tolist() == [[1, 0, 0, 1], [0, 0, 1, 1]]
    grid = (4, 4, 6)
    official = _official_running_cell(*grid, 0.5)
    assert np.array_equal(RunningCellMaskGenerator(grid, 0.5).tables.astype(bool), official)
    g = torch.Generator().manual_seed(3)
    masks = torch_running_cell_masks(64, grid, 0.5, generator=g).numpy().reshape(64, grid[0], -1)
    phases = torch.randint(4, (64,), generator=torch.Generator().manual_seed(3)).numpy()
    assert len(set(phases.tolist())) == 4                      # every phase occurs in the batch
    for b in range(64):
        assert np.array_equal(masks[b], official[phases[b]]), b


# ----------------------------------------------------------------------------------------------- training scores
def test_training_scores_come_from_the_metrics_module():
    from avfmae.train.common import scores
    from avfmae.train.config import stage_config

    pred = {"clips": ["a", "b", "c", "d"], "targets": [[1.0], [2.0], [3.0], [4.0]],
            "outputs": [[2.0], [3.0], [4.0], [5.0]]}
    got = scores(pred, True, ("mae",))
    # means 2.5 / 3.5, variances 1.25, covariance 1.25 -> CCC 2*1.25/3.5; every error is 1
    assert got["ccc"] == pytest.approx(100 * 2.5 / 3.5) and got["ccc_0"] == got["ccc"]
    assert got["mse"] == pytest.approx(1.0) and got["mae"] == pytest.approx(1.0)
    cls = scores({"clips": ["a", "b", "c"], "targets": [0, 1, 1], "probs": [[0.9, 0.1], [0.6, 0.4], [0.2, 0.8]]},
                 False)
    assert cls == {"uar": pytest.approx(75.0), "war": pytest.approx(100 * 2 / 3)}   # recalls 1 and 1/2
    # the validation metric is checked against the registry and the task when the config is made
    with pytest.raises(ValueError, match="unknown metric 'uarr'"):
        stage_config("stage3", "cpu", val_metric="uarr")
    with pytest.raises(ValueError, match="regression metric"):
        stage_config("stage3", "cpu", val_metric="mse")
    assert stage_config("stage3", "cpu", task="regression", val_metric="mse").metric_name == "mse"
