"""Grid: an ablation grid as frozen data, and loading the grid files of benchmarks/grids/."""
from __future__ import annotations

import importlib
import itertools
import pkgutil
from dataclasses import dataclass, field

from .plan import Plan, make_plan
from .store import ResultStore


@dataclass(frozen=True)
class Grid:
    name: str
    description: str
    models: tuple[str, ...]
    datasets: tuple[str, ...]
    variants: tuple[dict, ...] = ({},)
    protocol: str = "paper"
    folds: tuple[str, ...] | None = None
    seeds: tuple[int, ...] = (0,)
    base: dict = field(default_factory=dict)   # overrides shared by every variant (e.g. a CPU preset)
    paper: str = ""                            # which table/figure of the paper this reproduces

    def plan(self, store: ResultStore | None = None) -> Plan:
        out = Plan()
        for model, variant in itertools.product(self.models, self.variants):
            overrides = {**self.base, **variant, "grid": self.name}
            pipeline = any(k == "stages" or k.startswith(("stage1.", "stage2.")) for k in overrides)
            sub = make_plan(model, list(self.datasets), self.protocol, folds=list(self.folds) if self.folds else None,
                            seeds=self.seeds, overrides=overrides, store=store,
                            weights_id="pipeline" if pipeline else None)
            out.runs += sub.runs
            out.absent += [a for a in sub.absent if a not in out.absent]
        return out


def available() -> list[str]:
    from . import grids
    return sorted(m.name for m in pkgutil.iter_modules(grids.__path__) if not m.name.startswith("_"))


def load(name: str) -> Grid:
    if name not in available():
        raise KeyError(f"unknown grid {name!r}; known: {', '.join(available())} (files in benchmarks/grids/)")
    grid = getattr(importlib.import_module(f"benchmarks.grids.{name}"), "GRID", None)
    if not isinstance(grid, Grid):
        raise TypeError(f"benchmarks/grids/{name}.py must define GRID = Grid(...)")
    return grid
