"""Parameter manifests of the official full-size models: names, shapes, dtypes, order and totals, exactly."""
import json

import pytest
import torch

import zoo

SIZES = ["avfmae-base", "avfmae-large", "avfmae-huge"]
EXPECTED = {  # totals stated in the issue and the reference README (fine-tune with 11 classes / pre-train)
    "avfmae-base": (169_122_851, 187_942_660),
    "avfmae-large": (303_233_319, 336_322_308),
    "avfmae-huge": (521_309_229, 572_665_092),
}


def _meta_model(name, pretrain, num_classes=11):
    with torch.device("meta"):
        return zoo.create_model(name, pretrain=pretrain, num_classes=None if pretrain else num_classes)


@pytest.mark.parametrize("name", SIZES)
@pytest.mark.parametrize("kind", ["finetune", "pretrain"])
def test_state_dict_equals_manifest(ref_dir, name, kind):
    manifest = json.loads((ref_dir / "manifests" / f"{name}.{kind}.json").read_text())
    model = _meta_model(name, kind == "pretrain")
    ours = [[k, list(v.shape), str(v.dtype).removeprefix("torch.")] for k, v in model.state_dict().items()]
    assert ours == manifest["state_dict"]
    assert zoo.count_params(model) == manifest["total_params"] == EXPECTED[name][kind == "pretrain"]


@pytest.mark.parametrize("name", SIZES)
def test_manifest_shaped_state_dict_loads_strictly(ref_dir, name):
    manifest = json.loads((ref_dir / "manifests" / f"{name}.finetune.json").read_text())
    dtypes = {"float32": torch.float32, "int64": torch.int64}
    state = {k: torch.empty(shape, dtype=dtypes[dt], device="meta") for k, shape, dt in manifest["state_dict"]}
    model = _meta_model(name, False)
    report = zoo.load_into(model, state)
    assert report["dropped"] == [] and report["kept_init"] == []
    # one key short, one extra, one wrong shape: each is named
    broken = dict(state)
    broken.pop("encoder.norm.weight")
    broken["encoder.extra"] = torch.empty(1, device="meta")
    with pytest.raises(zoo.CheckpointError, match=r"encoder\.norm\.weight(.|\n)*encoder\.extra"):
        zoo.load_into(model, broken)
    wrong = dict(state)
    wrong["encoder.lg_region_tokens"] = torch.empty(7, 3, device="meta")
    with pytest.raises(zoo.CheckpointError, match=r"lg_region_tokens: checkpoint \(7, 3\)"):
        zoo.load_into(model, wrong)


def test_pretrain_manifest_loads_into_finetune_model(ref_dir):
    """The official way: pre-train weights go into the fine-tune model; decoders dropped, new head kept."""
    manifest = json.loads((ref_dir / "manifests" / "avfmae-base.pretrain.json").read_text())
    state = {k: torch.empty(shape, device="meta", dtype=torch.int64 if dt == "int64" else torch.float32)
             for k, shape, dt in manifest["state_dict"]}
    report = zoo.load_into(_meta_model("avfmae-base", False), state)
    assert sorted(report["kept_init"]) == sorted(
        ["layer_weights_video", "layer_weights_audio", "fc_norm.weight", "fc_norm.bias", "head.weight", "head.bias"])
    assert len(report["dropped"]) == 1240 - 1070 + 6  # pre-train-only keys
