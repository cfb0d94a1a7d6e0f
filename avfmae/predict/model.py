"""A model for inference: zoo name or tag (or a weights file), its input contract, label names and task.

Label names, first found wins: `--labels` (comma-separated, or a text file with one name per line), the
weights' metadata (stage-3 exports record `labels`, `task`, `head_activation` and `modalities` in their
provenance), else class_0, class_1, ... (regression: output_0, ...).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch

from avfmae.data.views import PreprocessConfig

__all__ = ["LoadedModel", "load_model", "parse_labels", "weights_metadata"]


@dataclass
class LoadedModel:
    model: torch.nn.Module
    name: str                          # as given (zoo name, name.tag)
    weights: str | None                # the weights file, None for a random init
    pcfg: PreprocessConfig             # the model's input contract as the evaluation preprocessing config
    labels: tuple                      # one name per output
    regression: bool
    modalities: tuple                  # the inputs the model was trained with ("video", "audio")
    silent: float                      # the normalised fbank value of silence (the missing-audio input)
    device: torch.device
    activation: str | None = None      # regression head activation applied to the outputs (sigmoid, tanh, relu)

    def outputs(self, video: torch.Tensor, audio: torch.Tensor) -> torch.Tensor:
        """(B, outputs): class probabilities (softmax), or regression values (after the head activation)."""
        with torch.inference_mode():
            out = self.model(video.to(self.device), audio.to(self.device)).float()
        if not self.regression:
            return torch.softmax(out, dim=-1).cpu()
        if self.activation:
            out = getattr(torch, self.activation)(out)
        return out.cpu()

    @property
    def window_seconds(self) -> float:
        """Length of one input window at 25 fps (frames x stride / 25)."""
        return self.pcfg.clip_len * self.pcfg.stride / 25.0


_LIST_SUFFIXES = {".txt", ".csv", ".tsv", ".lst", ".list", ".labels", ".json", ".yaml", ".yml"}


def parse_labels(text: str | None) -> tuple | None:
    """'a,b,c' or a file with one label per line -> ('a', 'b', 'c'); None stays None. A single name that looks
    like a file (a '/' or a list suffix such as .txt) but is none is an error, not a one-class name."""
    if not text:
        return None
    p = Path(text).expanduser()
    if p.is_file():
        names = [line.strip() for line in p.read_text(encoding="utf-8-sig").splitlines() if line.strip()]
    elif "," not in text and ("/" in text or os.sep in text or p.suffix.lower() in _LIST_SUFFIXES):
        raise FileNotFoundError(f"--labels {text}: no such file (give a file with one name per line, or the names "
                                "separated by commas)")
    else:
        names = [t.strip() for t in text.split(",") if t.strip()]
    if not names:
        raise ValueError(f"--labels {text!r} holds no label names")
    return tuple(names)


def weights_metadata(path: str | os.PathLike | None) -> dict:
    """The provenance dict of a .safetensors export ({} for other files or none)."""
    if path is None or not str(path).endswith(".safetensors"):
        return {}
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
    out = {}
    try:
        out = json.loads(meta.get("provenance") or "{}")
    except ValueError:
        out = {}
    out.setdefault("num_classes", int(meta.get("num_classes") or 0))
    return out


def _names(labels: Sequence[str] | None, n: int, regression: bool, source: str) -> tuple:
    if labels:
        if len(labels) != n:
            raise ValueError(f"{len(labels)} label names ({source}) for a model with {n} outputs: give exactly "
                             f"{n} names with --labels")
        return tuple(labels)
    return tuple(f"{'output' if regression else 'class'}_{i}" for i in range(n))


def load_model(name: str, weights: str | None = None, labels: Sequence[str] | None = None,
               num_classes: int | None = None, regression: bool | None = None, seed: int = 0,
               device: str = "cpu", allow_no_head: bool = False) -> LoadedModel:
    """Build zoo model `name` (or `name.tag`) with `weights` (a tag or a file, used even when the name has a tag;
    None: the tag in the name, else a seeded random init), in eval mode on `device`. `allow_no_head`: accept a
    backbone (embeddings only)."""
    from avfmae import zoo

    from avfmae.train.inputs import preprocess_config, silent_fbank_value

    model_name, tag = zoo.split_name(name)
    spec = zoo.get_spec(model_name)
    path = None
    if tag or weights:  # --weights wins over the tag in the name (the row's "model" field names --weights)
        path, _ = zoo.resolve_weights(model_name, weights or tag)
    meta = weights_metadata(path)
    config = meta.get("config") if isinstance(meta.get("config"), dict) else {}
    if regression is None:
        regression = (meta.get("task") or config.get("task")) == "regression"
    if num_classes is None and path is not None:  # the head the weights carry (0: a backbone without one)
        state, _ = zoo.read_state_dict(path)
        head = state.get("head.weight")
        num_classes = int(head.shape[0]) if head is not None else 0
    elif num_classes is None and labels:
        num_classes = len(labels)
    torch.manual_seed(seed)  # a random init (no weights) is reproducible
    model = zoo.create_model(model_name, num_classes=num_classes, weights=str(path) if path else None)
    model.eval().to(device)
    n_out = model.head.out_features if isinstance(model.head, torch.nn.Linear) else 0
    if n_out == 0 and not allow_no_head:
        raise ValueError(f"{name}: the weights have no classification head (a backbone); use python -m "
                         "avfmae.extract for embeddings, or fine-tune a head first")
    src = "--labels" if labels else "the weights' metadata"
    labels = labels or meta.get("labels") or config.get("labels")
    pcfg = preprocess_config(spec)
    mods = tuple(meta.get("modalities") or config.get("modalities") or ("video", "audio"))
    act = meta.get("head_activation", config.get("head_activation")) if regression else None
    return LoadedModel(model, name, str(path) if path else None, pcfg, _names(labels, n_out, bool(regression), src),
                       bool(regression), mods, silent_fbank_value(pcfg), torch.device(device), act)
