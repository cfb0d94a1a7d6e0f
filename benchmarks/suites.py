"""Suites: named sets of datasets, each with its default protocol and training preset.

`demo` is the embedded default: the synthetic set, CPU presets, and the whole three-stage pipeline (stage 1
pre-training and stage 2 injection on the demo training subjects run first, once, when the model has no weights).
"""
from __future__ import annotations

from dataclasses import dataclass

from .datasets import registry


@dataclass(frozen=True)
class Suite:
    name: str
    datasets: tuple[str, ...]
    protocol: str = "paper"
    preset: str = "paper"          # avfmae.train stage-3 preset
    stages: str = "3"              # "3": fine-tune the given weights; "1+2+3": pre-train and inject first
    description: str = ""


def get_suite(name: str) -> Suite:
    names = tuple(registry.list_datasets(name)) if name in registry.suite_names() else None
    if names is None:
        raise KeyError(f"unknown suite {name!r}; known: {', '.join(registry.suite_names())}")
    if name == "demo":
        return Suite("demo", names, protocol="paper", preset="cpu", stages="1+2+3",
                     description="synthetic audio-visual set; trains all three stages on CPU in minutes")
    return Suite(name, names, description=f"the paper's {name.upper() if name != 'all' else 'seventeen'} datasets")
