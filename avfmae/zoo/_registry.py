"""Name -> ModelSpec registry, and family -> (fine-tune class, pre-train class) builders."""
from __future__ import annotations

from typing import Callable

from .spec import ModelSpec

_SPECS: dict[str, ModelSpec] = {}
_FAMILIES: dict[str, tuple[Callable, Callable]] = {}


def register_model(spec: ModelSpec) -> ModelSpec:
    if spec.name in _SPECS:
        raise ValueError(f"model {spec.name!r} is already registered")
    if "." in spec.name:
        raise ValueError(f"model names may not contain '.', which separates a weights tag: {spec.name!r}")
    _SPECS[spec.name] = spec
    return spec


def register_family(family: str, finetune_cls: Callable, pretrain_cls: Callable) -> None:
    _FAMILIES[family] = (finetune_cls, pretrain_cls)


def get_spec(name: str) -> ModelSpec:
    from . import adapters, models  # noqa: F401  (registers the built-in variants)
    if adapters.is_adapter_ref(name):   # "pkg.module:factory": a model of your own (avfmae.zoo.adapters)
        return adapters.load_adapter(name).spec()
    if name not in _SPECS:
        close = [n for n in _SPECS if name.split("-")[0] in n]
        hint = f" Did you mean one of {close}?" if close else ""
        raise KeyError(f"unknown model {name!r}. Known: {sorted(_SPECS)}.{hint} (`python -m zoo list`)")
    return _SPECS[name]


def family_classes(family: str) -> tuple[Callable, Callable]:
    from . import models  # noqa: F401
    if family not in _FAMILIES:
        raise KeyError(f"no builder registered for model family {family!r}")
    return _FAMILIES[family]


def list_models(pattern: str = "*", include_test_sizes: bool = True) -> list[str]:
    import fnmatch
    from . import models  # noqa: F401
    return sorted(n for n, s in _SPECS.items()
                  if fnmatch.fnmatch(n, pattern) and (include_test_sizes or not s.test_size))


def derive(name: str, **arch_changes) -> str:
    """Register (once) a variant of `name` with architecture changes, for ablations; returns its name.

    The name is deterministic (`<name>~<hash of the changes>`), so every process of a run (a SLURM job, a
    resumed run) that derives the same variant gets the same model, arch hash and weights tags."""
    import hashlib
    import json
    from dataclasses import replace

    if not arch_changes:
        return name
    base = get_spec(name)
    digest = hashlib.sha256(json.dumps(arch_changes, sort_keys=True, default=str).encode()).hexdigest()[:8]
    derived = f"{name}~{digest}"
    if derived not in _SPECS:
        _SPECS[derived] = replace(base, name=derived, arch=base.arch.replace(**arch_changes),
                                  description=f"{name} with {arch_changes}")
    return derived
