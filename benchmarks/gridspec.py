"""Grid: an ablation grid as frozen data, and loading the grid files of benchmarks/grids/."""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field

from .plan import Request, RunPlan, plan
from .recipe import Recipe, RecipeError, applicable
from .store import ResultStore

REFERENCE = ":reference"     # suffix of a grid's reference runs' recipe.grid


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
    base: dict = field(default_factory=dict)   # recipe items shared by every variant (e.g. a CPU preset)
    paper: str = ""                            # which table/figure of the paper this reproduces
    # The run the variants are compared with, shown as the first row of the grid's table AND in the main table
    # (its recipe's grid is "<name>:reference"), so a suite built on the grid trains it once.
    reference: dict | None = None

    def reference_recipe(self) -> Recipe | None:
        if self.reference is None:
            return None
        try:
            return Recipe.parse(applicable({**self.base, **self.reference, "grid": self.name + REFERENCE}))
        except RecipeError as e:
            raise RecipeError(f"grid {self.name}, reference {self.reference}: {e}") from None

    def recipes(self) -> tuple[Recipe, ...]:
        """The reference (if any) first, then one recipe per variant."""
        out = [r for r in (self.reference_recipe(),) if r is not None]
        for i, variant in enumerate(self.variants, 1):
            try:
                out.append(Recipe.parse(applicable({**self.base, **variant, "grid": self.name})))
            except RecipeError as e:
                raise RecipeError(f"grid {self.name}, variant {i} {variant}: {e}") from None
        return tuple(out)

    def request(self) -> Request:
        return Request(models=tuple(self.models), datasets=tuple(self.datasets), protocol=self.protocol,
                       recipes=self.recipes(), folds=tuple(self.folds) if self.folds else None,
                       seeds=tuple(self.seeds), label=f"grid {self.name}")

    def plan(self, store: ResultStore | None = None) -> RunPlan:
        return plan(self.request(), store)


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
