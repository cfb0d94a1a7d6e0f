"""Stage configs refuse values of the wrong type or outside their range when they are made (avfmae.train.domains),
naming the field and what it takes; a recipe or grid with such a value fails when planned."""
import dataclasses

import pytest

from avfmae.train.config import Stage1Config, Stage2Config, Stage3Config, apply_overrides
from avfmae.train.domains import RULES


@pytest.mark.parametrize("cls, field, value, says", [
    (Stage3Config, "reprob", 25, "in [0, 1]"),                # a percentage where a probability goes
    (Stage3Config, "hflip", -0.1, "in [0, 1]"),
    (Stage2Config, "mixup_prob", 1.01, "in [0, 1]"),
    (Stage3Config, "smoothing", 1.0, "in [0, 1)"),            # all-uniform targets: nothing to learn
    (Stage3Config, "rrc_scale", (1.0, 0.08), "0 < lo <= hi <= 1"),   # bounds swapped
    (Stage3Config, "rrc_scale", (0.0, 1.0), "0 < lo <= hi <= 1"),
    (Stage3Config, "rrc_scale", (0.08,), "0 < lo <= hi <= 1"),
    (Stage1Config, "betas", (0.9, 1.2), "two numbers in [0, 1)"),
    (Stage1Config, "blr", 0.0, "> 0"),
    (Stage1Config, "eps", -1e-8, "> 0"),
    (Stage3Config, "layer_decay", 0.0, "in (0, 1]"),
    (Stage3Config, "layer_decay", 1.5, "in (0, 1]"),
    (Stage3Config, "drop_path", 1.0, "in [0, 1)"),
    (Stage3Config, "val_fraction", 1.0, "in (0, 1)"),
    (Stage1Config, "epochs", 0, ">= 1"),
    (Stage1Config, "warmup_steps", -2, "or -1"),
    (Stage1Config, "num_workers", -1, ">= 0"),
    (Stage1Config, "log_every", 0, ">= 1"),
    (Stage1Config, "clip_grad", -1.0, ">= 0 (0 or None: no clipping)"),
    (Stage3Config, "epochs", 2.5, "takes an integer"),        # types come from the dataclass
    (Stage3Config, "reprob", "0.25", "takes a number"),
    (Stage3Config, "blr", float("nan"), "takes a number"),
    (Stage1Config, "tensorboard", 1, "takes true/false"),
    (Stage3Config, "task", 3, "takes a string"),
    (Stage3Config, "task", "regresion", "one of classification, regression"),
    (Stage1Config, "amp", "bf32", "one of auto, bf16, fp16, off"),
    (Stage2Config, "sampling", "uniformly", "one of proportional, uniform"),
    (Stage1Config, "dist_timeout_s", 0, ">= 1"),
    (Stage1Config, "accum_steps", 0, ">= 1"),
    (Stage1Config, "device", "gpu", "auto, cpu, cuda or cuda:N"),   # was run as auto, i.e. on the CPU
    (Stage3Config, "export_tag", "v1.2", "without '.' or '/'"),     # was refused by the export after training
    (Stage3Config, "head_activation", "softmax", "one of sigmoid, relu, tanh"),
])
def test_bad_values_are_refused_naming_the_field(cls, field, value, says):
    with pytest.raises(ValueError) as e:
        cls(**{field: value})
    msg = str(e.value)
    assert f"{field}=" in msg and says in msg and cls.stage in msg


@pytest.mark.parametrize("cls, field, value", [
    (Stage3Config, "reprob", 0), (Stage3Config, "reprob", 1), (Stage3Config, "hflip", 0.5),
    (Stage3Config, "rrc_scale", (1.0, 1.0)), (Stage3Config, "rrc_scale", (0.08, 1)),
    (Stage1Config, "betas", (0, 0.999)), (Stage1Config, "warmup_steps", -1), (Stage1Config, "warmup_steps", 0),
    (Stage1Config, "clip_grad", None), (Stage1Config, "clip_grad", 3), (Stage1Config, "clip_grad", 0.0),
    (Stage3Config, "blr", 1),  # an int for a float
    (Stage3Config, "val", None), (Stage3Config, "layer_decay", 1.0), (Stage1Config, "max_steps", 0),
    (Stage1Config, "device", "cuda:1"), (Stage1Config, "device", "cpu"), (Stage3Config, "export_tag", "demo-s3"),
    (Stage3Config, "head_activation", "tanh"), (Stage3Config, "head_activation", None),
])
def test_edge_values_are_accepted(cls, field, value):
    assert getattr(cls(**{field: value}), field) == value


def test_lists_become_tuples_and_every_rule_names_a_real_field():
    assert Stage3Config(rrc_scale=[0.5, 1.0]).rrc_scale == (0.5, 1.0)
    assert Stage1Config(data=["a.tsv"]).data == ("a.tsv",)
    names = {f.name for c in (Stage1Config, Stage2Config, Stage3Config) for f in dataclasses.fields(c)}
    assert set(RULES) <= names, set(RULES) - names
    for cls in (Stage1Config, Stage2Config, Stage3Config):    # the defaults themselves pass
        cls()


def test_command_line_override_out_of_range_is_refused():
    with pytest.raises(ValueError, match="reprob=25.0: reprob must be in"):
        apply_overrides(Stage3Config(), ["reprob=25"])


# ------------------------------------------------------------------------------------------------ model configs
@pytest.mark.parametrize("field, value, says", [
    ("mask_ratio_video", 90, "in [0, 1)"),            # a percentage: int(90 * N) masked of N tokens
    ("mask_ratio_video", 1.0, "in [0, 1)"),           # no visible token left for the encoder
    ("mask_ratio_audio", -0.1, "in [0, 1)"),
    ("decoder_mask_ratio_video", 1.5, "in [0, 1)"),
    ("num_heads", 0, ">= 1"),                         # would divide by zero in the shape checks
    ("img_size", 160.0, "takes an integer"),
    ("audio_size", (256,), "2 integers >= 1"),
    ("video_region", (2, 5, 0), "3 integers >= 1"),
    ("temperature", 0.0, "> 0"),
    ("drop_path_rate", 1.0, "in [0, 1)"),
    ("head_activation", "softmax", "one of sigmoid, relu, tanh"),   # was a KeyError when the model was built
])
def test_model_config_values_are_checked(field, value, says):
    from avfmae.models.config import AVFConfig

    with pytest.raises(ValueError) as e:
        AVFConfig(**{field: value})
    assert f"AVFConfig: {field}=" in str(e.value) and says in str(e.value)


def test_hicmae_mask_ratio_is_checked_and_numpy_numbers_pass():
    import numpy as np

    from avfmae.models.config import AVFConfig
    from avfmae.models.hicmae_config import HiCMAEConfig

    with pytest.raises(ValueError, match="HiCMAEConfig: mask_ratio_audio=80"):
        HiCMAEConfig(mask_ratio_audio=80)
    assert AVFConfig(img_size=np.int64(160), mask_ratio_video=np.float32(0.75), audio_size=[256, 128]).audio_size \
        == (256, 128)                                  # importers may hand numpy numbers and lists
    for ratio in (0.0, 0.5, 0.999):
        AVFConfig(mask_ratio_video=ratio)
