"""`python -m avfmae.conformance DIR` on the official golden, and on goldens of other shapes."""
import json
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file, save_file

from avfmae.conformance.__main__ import main
from avfmae.models import AVFConfig
from tools.make_golden import make_golden


@pytest.mark.golden
def test_official_tiny_golden_passes(ref_dir, capsys):
    assert main([str(ref_dir / "golden" / "avfmae-tiny")]) == 0
    out = capsys.readouterr().out
    assert "91 passed, 0 failed" in out
    assert "FAIL" not in out


def test_cli_exit_code_and_output(ref_dir):
    proc = subprocess.run([sys.executable, "-m", "avfmae.conformance", str(ref_dir / "golden" / "avfmae-tiny")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "max|diff|" in proc.stdout and "ft.logits" in proc.stdout


OTHER_SHAPE = AVFConfig(embed_dim=32, num_heads=2, depth=3, depth_audio=2, fusion_depth=3, fusion_heads=4,
                        decoder_dim=16, decoder_heads=2, decoder_depth=3, taps=(0, 1), num_classes=5)


@pytest.fixture(scope="module")
def other_golden(tmp_path_factory):
    return make_golden(tmp_path_factory.mktemp("golden") / "avfmae-other", OTHER_SHAPE)


def test_any_golden_of_the_format_is_built_from_its_config(other_golden, capsys):
    assert main([str(other_golden)]) == 0
    out = capsys.readouterr().out
    assert "ft.iavcl.dier2.video" in out          # three DiER units, from the config
    assert "pt.logits_v2a.tap1" in out and "tap2" not in out


def test_a_wrong_tensor_fails_and_is_named(other_golden, tmp_path, capsys):
    bad = tmp_path / "bad"
    bad.mkdir()
    for f in other_golden.iterdir():
        (bad / f.name).write_bytes(f.read_bytes())
    outputs = load_file(str(bad / "outputs.safetensors"))
    outputs["ft.logits"] = outputs["ft.logits"] + 2e-4   # just over atol 1e-4 + rtol
    outputs["pt.loss_mask_video"] = ~outputs["pt.loss_mask_video"]
    save_file(outputs, str(bad / "outputs.safetensors"))
    assert main([str(bad)]) == 1
    out = capsys.readouterr().out
    assert "FAIL ft.logits" in out and "FAIL pt.loss_mask_video" in out


def test_unknown_recorded_key_is_a_failure(other_golden, tmp_path, capsys):
    bad = tmp_path / "extra"
    bad.mkdir()
    for f in other_golden.iterdir():
        (bad / f.name).write_bytes(f.read_bytes())
    outputs = load_file(str(bad / "outputs.safetensors"))
    outputs["ft.something_new"] = torch.zeros(2)
    save_file(outputs, str(bad / "outputs.safetensors"))
    assert main([str(bad)]) == 1
    assert "not produced by this build" in capsys.readouterr().out


def test_unsupported_option_is_a_clear_error(other_golden, tmp_path, capsys):
    bad = tmp_path / "joint"
    bad.mkdir()
    for f in other_golden.iterdir():
        (bad / f.name).write_bytes(f.read_bytes())
    cfg = json.loads((bad / "config.json").read_text())
    cfg["constructor_kwargs"]["finetune"]["lg_attn_param_sharing_all"] = True
    (bad / "config.json").write_text(json.dumps(cfg))
    assert main([str(bad)]) == 1
    assert "lg_attn_param_sharing_all" in capsys.readouterr().err
