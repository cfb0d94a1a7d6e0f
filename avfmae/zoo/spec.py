"""ModelSpec: a model variant's architecture, input contract and weights tags, as frozen data."""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class InputContract:
    """What the model expects from the data pipeline (the official fine-tune/test settings)."""
    num_frames: int = 16
    frame_stride: int = 4
    img_size: int = 160
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)
    sample_rate: int = 16000
    num_mel_bins: int = 128
    target_length: int = 256          # fbank frames (10 ms shift): 2.56 s
    fbank_mean: float = -4.2677393    # AudioSet statistics; normalised as (x - mean) / (2 * std)
    fbank_std: float = 4.5689974
    test_segments: int = 2
    test_crops: int = 2


@dataclass(frozen=True)
class ModelSpec:
    name: str                                   # "avfmae-base"
    family: str                                 # builder family: "avfmae" | "hicmae"
    arch: Any                                   # the family's frozen config (AVFConfig, ...)
    description: str = ""
    input: InputContract = field(default_factory=InputContract)
    paper_params_m: float | None = None         # the paper's "#PS" column
    official_name: str = ""                     # the official registry name of the fine-tune model
    test_size: bool = False                     # small variant for tests and CPU demos

    @property
    def arch_hash(self) -> str:
        return arch_hash(self.family, self.arch)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["arch_hash"] = self.arch_hash
        return d


def arch_hash(family: str, arch: Any, ignore: tuple[str, ...] = ("num_classes", "drop_path_rate")) -> str:
    """12-hex hash of every architecture knob that changes the weights' names or shapes or their meaning.

    The class count and the stochastic-depth rate are left out: a head is replaced per dataset, and drop path
    does not change what the weights compute at test time.
    """
    knobs = {k: v for k, v in dataclasses.asdict(arch).items() if k not in ignore}
    blob = json.dumps({"family": family, "arch": knobs}, sort_keys=True, default=list)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]
