"""Suites: named sets of datasets, each with its default protocol and training preset.

`demo` is the embedded default: the synthetic set, CPU presets, and the whole three-stage pipeline for a model
without weights: the arms of the `claims` grid (its reference, stages 1+2+3 audio-visual with stages 1 and 2 on
the external corpus demo-extra, and the comparisons scratch / 1+3 / video only / audio only).
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
    grid: str = ""                 # a grid whose reference + variants are the suite's runs of a model without weights


def get_suite(name: str) -> Suite:
    names = tuple(registry.list_datasets(name)) if name in registry.suite_names() else None
    if names is None:
        raise KeyError(f"unknown suite {name!r}; known: {', '.join(registry.suite_names())}")
    if name == "demo":
        return Suite("demo", names, protocol="paper", preset="cpu", stages="1+2+3", grid="claims",
                     description="synthetic audio-visual set; trains all three stages on CPU in minutes and "
                                 "compares the method's arms (benchmarks/grids/claims.py)")
    return Suite(name, names, description=f"the paper's {name.upper() if name != 'all' else 'seventeen'} datasets")
