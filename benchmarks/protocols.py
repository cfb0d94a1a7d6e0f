"""Protocols: how a model meets a dataset. Each has a version that goes into every run key and table.

- paper (v1): the official recipe. Stage-3 fine-tuning per fold, model selection on the TEST fold (the best
  epoch by centre-view accuracy, as the official code does with `val == test`), then 2 temporal x 2 spatial test
  views, and the dataset's number is the mean of per-fold metrics. Tables built from it say so.
- clean (v1): the same fine-tuning, but the epoch is selected on a validation split carved from the training
  subjects (the dataset's own val split where it has one); the test fold is touched once.
- probe (v1): a linear head (logistic regression / ridge) on frozen, cached clip features of the centre view:
  no fine-tuning, far cheaper, for fast sweeps.
- eval (v1): no training at all: given fine-tuned weights (one file for every fold, or one per fold: a
  '{fold}' pattern or a fold -> path mapping) are scored on each fold's test split with the official multi-view
  test (2 temporal x 2 spatial views, softmax per view averaged), the dataset's metrics, one result per fold. The
  checkpoint's head is kept; its class count must be the dataset's.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Protocol:
    name: str
    version: str
    kind: str                 # "finetune" | "probe" | "eval"
    selection: str            # "test" | "val" | "last" (ignored by probe); "none" for eval (nothing is trained)
    description: str
    preset: str = "paper"     # stage-3 preset name in avfmae.train.config (paper | paper-psi | cpu | none)

    @property
    def label(self) -> str:
        return f"{self.name}-{self.version}"


PROTOCOLS = {
    "paper": Protocol("paper", "v1", "finetune", "test",
                      "official recipe: best epoch chosen on the test fold, 2x2 test views, mean of per-fold metrics"),
    "clean": Protocol("clean", "v1", "finetune", "val",
                      "best epoch chosen on a validation split from the training subjects, 2x2 test views"),
    "probe": Protocol("probe", "v1", "probe", "last",
                      "linear head on frozen centre-view features (logistic regression / ridge)"),
    "eval": Protocol("eval", "v1", "eval", "none",
                     "given fine-tuned weights scored without training: 2x2 test views, the dataset's metrics",
                     preset="none"),
}


def get_protocol(name: str) -> Protocol:
    if name not in PROTOCOLS:
        raise KeyError(f"unknown protocol {name!r}; known: {', '.join(PROTOCOLS)}")
    return PROTOCOLS[name]
