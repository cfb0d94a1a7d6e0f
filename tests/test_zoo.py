"""create_model, weights tags, safe and strict checkpoint loading."""
import argparse
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

import zoo
from zoo.weights import WeightsRecord, register_weights, sha256_file


@pytest.fixture(autouse=True)
def zoo_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("AVF_ZOO_DIR", str(tmp_path / "zoo"))
    return tmp_path / "zoo"


def _inputs(batch=1):
    g = torch.Generator().manual_seed(0)
    return torch.randn(batch, 3, 16, 160, 160, generator=g), torch.randn(batch, 1, 256, 128, generator=g)


def test_registry_lists_paper_sizes_and_test_sizes():
    names = zoo.list_models()
    assert {"avfmae-base", "avfmae-large", "avfmae-huge", "avfmae-tiny"} <= set(names)
    assert "avfmae-tiny" not in zoo.list_models(include_test_sizes=False)
    with pytest.raises(KeyError, match="unknown model 'avfmae-giant'"):
        zoo.get_spec("avfmae-giant")


def test_create_model_head_and_pretrain_flag():
    ft = zoo.create_model("avfmae-tiny", num_classes=3)
    assert ft.head.out_features == 3 and ft.spec.name == "avfmae-tiny"
    pt = zoo.create_model("avfmae-tiny", pretrain=True)
    assert hasattr(pt, "decoder") and not hasattr(pt, "head")


def test_tag_round_trip_through_safetensors(zoo_dir):
    src = zoo.create_model("avfmae-tiny", num_classes=4).eval()
    zoo_dir.mkdir(parents=True)
    path = zoo_dir / "tiny-demo.safetensors"
    spec = zoo.get_spec("avfmae-tiny")
    save_file(src.state_dict(), str(path), metadata={"arch_hash": spec.arch_hash, "model": "avfmae-tiny"})
    register_weights(WeightsRecord(tag="demo", model="avfmae-tiny", file=path.name, sha256=sha256_file(path),
                                   arch_hash=spec.arch_hash, kind="finetune", num_classes=4))
    loaded = zoo.create_model("avfmae-tiny.demo").eval()
    assert loaded.head.out_features == 4            # class count taken from the tag
    assert loaded.weights_sha256 == sha256_file(path)
    v, a = _inputs()
    with torch.no_grad():
        assert torch.equal(src(v, a), loaded(v, a))
    assert "demo" in subprocess.run([sys.executable, "-m", "zoo", "list", "avfmae-tiny"], capture_output=True,
                                    text=True, env=dict(os.environ)).stdout


def test_official_style_pth_with_args_namespace_loads(tmp_path):
    """Official checkpoints: {'model': state_dict, 'args': Namespace, 'epoch': n}; also 'module' and bare. Numpy
    numbers (and arrays) left in the args or a best-score field are data and load too."""
    pt = zoo.create_model("avfmae-tiny", pretrain=True)
    for wrap in ("model", "module", None):
        state = pt.state_dict()
        args = argparse.Namespace(lr=1e-3, min_lr=np.float64(1e-6), input_size=np.int64(160), flip=np.bool_(True),
                                  mean=np.array([0.485, 0.456, 0.406], dtype=np.float32))
        obj = {wrap: state, "args": args, "epoch": 99, "max_accuracy": np.float32(51.5)} if wrap else state
        f = tmp_path / f"checkpoint-{wrap}.pth"
        torch.save(obj, f)
        ft = zoo.create_model("avfmae-tiny", weights=str(f), num_classes=7)  # pre-train -> fine-tune model
        assert torch.equal(ft.encoder.norm.weight, pt.encoder.norm.weight)
        assert torch.equal(ft.encoder_fusion.cross_attn.q.weight, pt.encoder_fusion.cross_attn.q.weight)
    # a file written under numpy 1 names its numbers numpy.core.multiarray.* (numpy 2: numpy._core.multiarray.*)
    old = tmp_path / "checkpoint-numpy1.pth"
    with zipfile.ZipFile(tmp_path / "checkpoint-model.pth") as zin, zipfile.ZipFile(old, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename.endswith("data.pkl"):
                data = data.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
                assert b"numpy.core.multiarray\nscalar" in data
            zout.writestr(info, data)
    ft = zoo.create_model("avfmae-tiny", weights=str(old), num_classes=7)
    assert torch.equal(ft.encoder.norm.weight, pt.encoder.norm.weight)


class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_arbitrary_pickles_are_refused(tmp_path):
    f = tmp_path / "evil.pth"
    torch.save({"model": {"x": torch.zeros(1)}, "payload": Evil()}, f)
    with pytest.raises(zoo.CheckpointError, match="refused to unpickle"):
        zoo.create_model("avfmae-tiny", weights=str(f))
    # numpy arrays are allowed as data; an object array smuggling the payload is still refused
    torch.save({"model": {"x": torch.zeros(1)}, "payload": np.array([Evil()], dtype=object)}, f)
    with pytest.raises(zoo.CheckpointError, match="refused to unpickle"):
        zoo.create_model("avfmae-tiny", weights=str(f))


def test_a_refused_pickle_names_what_it_holds_in_one_line_without_torchs_advice(tmp_path):
    """torch's refusal is a page with terminal colour codes that suggests weights_only=False or allow-listing the
    global; the error says in one line which object the file holds (here: the function `print`, put there by
    the test) and what to do instead."""
    f = tmp_path / "hook.pth"
    torch.save({"model": {"x": torch.zeros(1)}, "hook": print}, f)
    with pytest.raises(zoo.CheckpointError) as e:
        zoo.checkpoint.read_state_dict(f)
    msg = str(e.value)
    assert msg.startswith(f"{f}: refused to unpickle it") and "(print)" in msg and "safetensors" in msg
    assert "\n" not in msg and "\x1b" not in msg and "weights_only" not in msg and "add_safe_globals" not in msg


def test_truncated_checkpoint_is_named(tmp_path):
    f = tmp_path / "cut.pth"
    torch.save(zoo.create_model("avfmae-tiny").state_dict(), f)
    f.write_bytes(f.read_bytes()[:1000])
    with pytest.raises(zoo.CheckpointError, match="cut.pth"):
        zoo.create_model("avfmae-tiny", weights=str(f))


def test_head_size_mismatch_errors_unless_reset(tmp_path):
    f = tmp_path / "ft.safetensors"
    save_file(zoo.create_model("avfmae-tiny", num_classes=7).state_dict(), str(f))
    with pytest.raises(zoo.CheckpointError, match=r"head\.weight: checkpoint \(7, 96\) vs model \(3, 96\)"):
        zoo.create_model("avfmae-tiny", weights=str(f), num_classes=3)
    m = zoo.create_model("avfmae-tiny", weights=str(f), num_classes=3, reset_head=True)
    assert m.head.out_features == 3


def test_architecture_mismatch_is_caught_from_metadata(tmp_path):
    f = tmp_path / "small.safetensors"
    small = zoo.get_spec("avfmae-small")
    save_file(zoo.create_model("avfmae-small").state_dict(), str(f), metadata={"arch_hash": small.arch_hash})
    with pytest.raises(zoo.CheckpointError, match="exported for architecture"):
        zoo.create_model("avfmae-tiny", weights=str(f))


def test_unknown_weights_and_bad_hf_ids_explain_themselves():
    with pytest.raises(FileNotFoundError, match="not a registered tag"):
        zoo.create_model("avfmae-tiny", weights="no-such-tag")
    with pytest.raises(ValueError, match="hf:<repo id>:<file>"):
        zoo.create_model("avfmae-tiny", weights="hf:Conna/AVF-MAE")


def test_hf_offline_without_cache_is_a_clear_error(monkeypatch, tmp_path):
    import huggingface_hub.constants as hf_constants
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)   # read at import time, so patch it too
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    with pytest.raises(FileNotFoundError, match="Hugging Face cache"):
        zoo.create_model("avfmae-tiny", weights="hf:Conna/AVF-MAE:checkpoint-99.pth")


def _fake_hf_cache(monkeypatch, tmp_path, files: dict) -> None:
    """An offline Hugging Face cache holding `files` (name -> bytes) of Conna/AVF-MAE at one snapshot."""
    import huggingface_hub.constants as hf_constants
    cache = tmp_path / "hf"
    repo = cache / "models--Conna--AVF-MAE"
    commit = "0123456789abcdef0123456789abcdef01234567"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    snap = repo / "snapshots" / commit
    snap.mkdir(parents=True)
    for name, data in files.items():
        (snap / name).write_bytes(data)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(cache))
    return snap


def test_hf_weights_load_offline_from_the_cache(monkeypatch, tmp_path):
    """hf:Conna/AVF-MAE:<file> works with no network when the file is in the cache, and the official tag of
    the released huge file resolves to the same cached file."""
    import io

    src = zoo.create_model("avfmae-tiny", num_classes=5)
    buf = io.BytesIO()
    torch.save({"model": src.state_dict()}, buf)
    snap = _fake_hf_cache(monkeypatch, tmp_path, {"ft-tiny.pth": buf.getvalue(), "AVF-MAE++_huge.pth": b"PK"})
    m = zoo.create_model("avfmae-tiny", num_classes=5, weights="hf:Conna/AVF-MAE:ft-tiny.pth")
    for k, v in src.state_dict().items():
        assert torch.equal(m.state_dict()[k], v), k
    path, record = zoo.resolve_weights("avfmae-huge", "official")
    assert path.resolve() == (snap / "AVF-MAE++_huge.pth").resolve() and record is None
    path2, _ = zoo.resolve_weights("avfmae-huge", "avfmae-huge.official")
    assert path2 == path
    with pytest.raises(FileNotFoundError, match="avfmae-huge.official"):
        zoo.resolve_weights("avfmae-huge", "no-such-tag")     # the known tags are listed in the error
