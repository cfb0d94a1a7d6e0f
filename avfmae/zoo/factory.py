"""create_model: build a registered variant, optionally with weights (tag, path or Hugging Face id)."""
from __future__ import annotations

import os

import torch

from . import adapters, checkpoint, weights as weights_mod
from ._registry import family_classes, get_spec
from .spec import ModelSpec, arch_hash


def split_name(name: str) -> tuple[str, str | None]:
    """'avfmae-tiny.demo-s1' -> ('avfmae-tiny', 'demo-s1'); 'avfmae-base' -> ('avfmae-base', None);
    an adapter 'pkg.module:factory' has no tag -> ('pkg.module:factory', None)."""
    if adapters.is_adapter_ref(name):
        return name, None
    model, _, tag = name.partition(".")
    return model, tag or None


def create_model(name: str, num_classes: int | None = None, pretrain: bool = False,
                 weights: str | os.PathLike | None = None, reset_head: bool = False,
                 **arch_overrides) -> torch.nn.Module:
    """Build `name` (optionally `name.tag`) as the fine-tune model, or the pre-train model with pretrain=True.

    num_classes: head size (default: the weights' class count if they carry one, else the spec's).
    weights: None (fresh init), a registered tag, a local .safetensors/.pth path, or 'hf:<repo>:<file>'.
    reset_head: drop a loaded head whose class count differs from num_classes (start a new task head).
    arch_overrides: AVFConfig fields such as drop_path_rate (anything that changes weight shapes must match
    the checkpoint or loading fails, naming the keys).
    """
    if adapters.is_adapter_ref(name):   # a model of your own: avfmae.zoo.adapters
        if pretrain:
            raise adapters.AdapterError(f"model {name!r}: pre-training (stages 1/2) is for AVF-MAE++ zoo models")
        return adapters.create(name, num_classes, weights, reset_head, **arch_overrides)
    model_name, tag = split_name(name)
    if tag and weights is not None:
        raise ValueError(f"{name!r} already names weights tag {tag!r}; do not also pass weights=")
    spec = get_spec(model_name)
    weights = tag if tag else weights
    path = record = None
    if weights is not None:
        path, record = weights_mod.resolve(model_name, weights)
    if num_classes is None and record is not None and record.kind == "finetune" and not reset_head:
        num_classes = record.num_classes
    arch = spec.arch.replace(**arch_overrides) if arch_overrides else spec.arch
    if num_classes is not None:
        arch = arch.replace(num_classes=num_classes)
    finetune_cls, pretrain_cls = family_classes(spec.family)
    model = (pretrain_cls if pretrain else finetune_cls)(arch)
    model.spec = spec
    model.weights_sha256 = None
    if path is not None:
        state, meta = checkpoint.read_state_dict(path)
        _check_arch(path, meta, record, model_name, arch_hash(spec.family, arch))
        checkpoint.load_into(model, state, source=str(path), reset_head=reset_head)
        model.weights_sha256 = record.sha256 if record else weights_mod.sha256_file(path)
    return model


def _check_arch(path, meta: dict, record, model_name: str, want: str) -> None:
    have = meta.get("arch_hash") or (record.arch_hash if record else None)
    if have and have != want:
        raise checkpoint.CheckpointError(
            f"{path}: weights were exported for architecture {have} ({meta.get('model', record and record.model)}),"
            f" but {model_name} with these overrides is {want}")


def check_weights(name: str, weights: str | os.PathLike | None = None, num_classes: int | None = None,
                  **arch_overrides) -> None:
    """What `create_model(name, num_classes, weights)` checks of a zoo model's weights (architecture hash, key
    names and shapes; the fine-tune model, head kept) without reading the tensors of a safetensors file or
    allocating the model: it is built on the meta device. Raises CheckpointError naming what does not fit."""
    model_name, tag = split_name(name)
    spec = get_spec(model_name)
    path, record = weights_mod.resolve(model_name, tag or weights)
    arch = spec.arch.replace(**arch_overrides) if arch_overrides else spec.arch
    if num_classes is not None:
        arch = arch.replace(num_classes=num_classes)
    shapes, meta = checkpoint.state_shapes(path)
    _check_arch(path, meta, record, model_name, arch_hash(spec.family, arch))
    finetune_cls, _ = family_classes(spec.family)
    with torch.device("meta"):
        model = finetune_cls(arch)
    checkpoint.check_fit({k: tuple(v.shape) for k, v in model.state_dict().items()}, shapes, source=str(path),
                         model_class=type(model).__name__)


def count_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def describe(spec: ModelSpec) -> dict:
    ft_cls, pt_cls = family_classes(spec.family)
    with torch.device("meta"):  # shapes only: no memory, no init time
        ft, pt = ft_cls(spec.arch), pt_cls(spec.arch)
    return {"name": spec.name, "finetune_params": count_params(ft), "pretrain_params": count_params(pt),
            "num_classes": spec.arch.num_classes, "arch_hash": spec.arch_hash}
