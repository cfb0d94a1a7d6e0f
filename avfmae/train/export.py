"""Export trained weights as a zoo tag: safetensors + ModelSpec + architecture hash + config + stage provenance.

    record = export_weights(model, "avfmae-micro", tag="demo-s1", kind="pretrain", stage="stage1", config=cfg)
    zoo.create_model("avfmae-micro.demo-s1")            # loads it by name, in any process that knows the spec

The file goes to `<zoo dir>/<model>/<tag>.safetensors` (atomic write), its metadata carries everything a reader
needs without the registry (model name, arch hash, kind, class count, stage, config, the ModelSpec, the parent
weights), and `zoo.register_weights` adds the tag to `<zoo dir>/tags.json`.
"""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import torch
from safetensors.torch import save_file

from avfmae import zoo
from avfmae.atomic import atomic_path
from avfmae.zoo.spec import arch_hash
from avfmae.zoo.weights import TAG_RULE, WeightsRecord, now_iso, register_weights, sha256_file, valid_tag, zoo_dir


def _git_sha() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).resolve().parent)
        return out.stdout.strip() if out.returncode == 0 else ""
    except (OSError, subprocess.TimeoutExpired):
        return ""


def export_state(model: torch.nn.Module, kind: str, keep_head: bool = True) -> dict[str, torch.Tensor]:
    """The state dict to export: the bare model's tensors (contiguous, unshared); without the head when
    keep_head is False (a backbone for a new task)."""
    module = getattr(model, "module", model)
    state = module.state_dict()
    out = {}
    for k, v in state.items():
        if not keep_head and k.startswith("head."):
            continue
        out[k] = v.detach().to("cpu").contiguous().clone()
    return out


def export_weights(model: torch.nn.Module, model_name: str, tag: str, kind: str, stage: str, config: dict,
                   num_classes: int = 0, parent: str | None = None, keep_head: bool = True,
                   extra: dict | None = None, out_dir: str | os.PathLike | None = None) -> WeightsRecord:
    """Write the safetensors file and register `<model_name>.<tag>`. `kind` is "pretrain" (the pre-train model) or
    "finetune" (the classifier; num_classes 0 when the head was left out)."""
    if kind not in ("pretrain", "finetune"):
        raise ValueError(f"kind must be pretrain or finetune, not {kind!r}")
    if not valid_tag(tag):
        raise ValueError(f"weights tag {tag!r}: use {TAG_RULE}")
    spec = zoo.get_spec(model_name)
    module = getattr(model, "module", model)
    cfg = getattr(module, "cfg", spec.arch)
    ahash = arch_hash(spec.family, cfg)
    if ahash != spec.arch_hash:
        raise ValueError(f"the trained model's architecture ({ahash}) is not {model_name}'s ({spec.arch_hash}); "
                         "only fields outside the hash (class count, drop path) may differ")
    state = export_state(module, kind, keep_head)
    provenance = {"stage": stage, "config": config, "parent": parent, "git": _git_sha(), "date": now_iso(),
                  **(extra or {})}
    meta = {"model": model_name, "arch_hash": ahash, "kind": kind, "num_classes": str(int(num_classes)),
            "stage": stage, "tag": tag, "spec": json.dumps(spec.to_dict(), default=str),
            "provenance": json.dumps(provenance, default=str)}
    folder = Path(out_dir) if out_dir is not None else zoo_dir() / model_name
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{tag}.safetensors"
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata=meta)
    try:
        rel = str(path.resolve().relative_to(zoo_dir().resolve()))
    except ValueError:
        rel = str(path.resolve())
    record = WeightsRecord(tag=tag, model=model_name, file=rel, sha256=sha256_file(path), arch_hash=ahash, kind=kind,
                           num_classes=int(num_classes), provenance=provenance)
    return register_weights(record)


__all__ = ["export_weights", "export_state"]
