"""Zoo tags of the official AVF-MAE++ release on Hugging Face (`Conna/AVF-MAE`), for the files known by name.

A tag is listed here only where the file's name comes from a source we can cite; every other file of the release
keeps working as `hf:Conna/AVF-MAE:<file>`. Either way the file comes through huggingface_hub's cache: with
`HF_HUB_OFFLINE=1` (or no network) a file already in the cache loads, anything else is a clear error.

What is known (checked 2026-11; the official GitHub README, XuecWu/AVF-MAE, only links the Hugging Face repo
and names no file):
- https://huggingface.co/Conna/AVF-MAE/tree/main lists one checkpoint, `AVF-MAE++_huge.pth` (6.87 GB, a torch
  pickle whose imports include argparse.Namespace, numpy.dtype and numpy.core.multiarray.scalar), beside `logs/`
  (fine-tune logs of huge on MAFW 11-class and MSP-IMPROV) and `figs/`. Neither the listing nor the README say
  whether it is the pre-trained or a fine-tuned model, so its kind is "unknown" here. An inference, not a
  source: 6.87 GB is what avfmae-huge's pre-train model (572,665,092 parameters, `python -m zoo info
  avfmae-huge`) takes with its two AdamW moments in fp32 (x 12 bytes = 6.87e9), as the official pre-training
  script saves it; the fine-tune model would take 6.26e9. Fine-tune it (`--model avfmae-huge.official`, the paper
  protocol); the eval protocol names a headless file as such.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .weights import OFFICIAL_HF_REPO


@dataclass(frozen=True)
class OfficialWeights:
    model: str                     # zoo model the file is for
    tag: str
    file: str                      # file name in the Hugging Face repo
    repo: str = OFFICIAL_HF_REPO
    kind: str = "unknown"          # "pretrain" | "finetune" | "unknown" (not stated by the source)
    provenance: dict = field(default_factory=dict)

    @property
    def reference(self) -> str:
        return f"hf:{self.repo}:{self.file}"


OFFICIAL = {
    "avfmae-huge.official": OfficialWeights(
        "avfmae-huge", "official", "AVF-MAE++_huge.pth",
        provenance={"source": "https://huggingface.co/Conna/AVF-MAE/tree/main (file listing)",
                    "size": "6.87 GB", "format": "torch pickle (argparse.Namespace, numpy scalars)",
                    "note": "pre-trained or fine-tuned is not stated by the release; the size matches the "
                            "pre-train model with its AdamW moments (inferred)"}),
}


def official_for(model: str) -> list[OfficialWeights]:
    return [w for w in OFFICIAL.values() if w.model == model]


__all__ = ["OFFICIAL", "OfficialWeights", "official_for"]
