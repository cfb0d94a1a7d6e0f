"""Dataset registry: name -> DatasetSpec, and the named suites (`all`, `cea`, `dea`, `mer`, `demo`).

Every public module of `benchmarks.datasets.sets` is one dataset (or one release with several label spaces, such
as MAFW-11/43): its `SPECS`, `LAYOUT` and `import_release` (see that package's docstring). They are found with
pkgutil and registered at import, in the order of their `ORDER` (the paper's table order), so adding a dataset
means adding one module there. A module that does not meet the contract, or a spec that lists a metric the
metrics registry does not know, fails the import with an error naming the module's file.
"""
from __future__ import annotations

import difflib
import importlib
import pkgutil
from types import ModuleType
from typing import Callable

from . import sets as _sets_package
from .spec import DatasetSpec

_REGISTRY: dict[str, DatasetSpec] = {}
_SUITES: dict[str, list[str]] = {"all": [], "cea": [], "dea": [], "mer": [], "demo": []}
_ALIASES: dict[str, str] = {}
_MODULES: dict[str, ModuleType] = {}   # dataset name -> the module of benchmarks.datasets.sets that defines it


class DatasetModuleError(ValueError):
    """A dataset module does not meet the contract of `benchmarks.datasets.sets`; the message names its file."""


def known_metric_names() -> frozenset[str]:
    """The metric names a spec may list: those of the metrics registry (avfmae.metrics). The one place that
    names that module."""
    from avfmae import metrics
    return frozenset(metrics.METRICS)


def paper_model_names() -> frozenset[str]:
    """The model names a spec's `paper` numbers may be filed under: the zoo's registered models. Imports the zoo
    (and torch), so it is called by the catalog tests, not at registry load."""
    from avfmae import zoo
    return frozenset(zoo.list_models())


def register(spec: DatasetSpec, suites: tuple[str, ...] = (), overwrite: bool = False) -> DatasetSpec:
    """Add a spec (and put it in `suites`). Re-registering a different spec under a taken name is an error."""
    old = _REGISTRY.get(spec.name)
    if old is not None and old != spec and not overwrite:
        raise ValueError(f"dataset {spec.name!r} is already registered with a different spec; "
                         "pass overwrite=True to replace it")
    _REGISTRY[spec.name] = spec
    for suite in suites:
        members = _SUITES.setdefault(suite, [])
        if spec.name not in members:
            members.append(spec.name)
    return spec


def _check_module(module: ModuleType, metrics: frozenset[str]) -> tuple[DatasetSpec, ...]:
    """The module's specs, after checking the contract; raises DatasetModuleError naming the file."""
    where = module.__file__
    specs = getattr(module, "SPECS", None)
    if not isinstance(specs, tuple) or not specs or not all(isinstance(s, DatasetSpec) for s in specs):
        raise DatasetModuleError(f"{where}: a dataset module must define SPECS, a non-empty tuple of DatasetSpec "
                                 "(see benchmarks/datasets/sets/__init__.py); rename helper modules to _<name>.py")
    importer = getattr(module, "import_release", None)
    if importer is not None and not callable(importer):
        raise DatasetModuleError(f"{where}: import_release must be a function (spec, raw, source='auto') -> Plan")
    if importer is not None and not isinstance(getattr(module, "LAYOUT", None), str):
        raise DatasetModuleError(f"{where}: a module with import_release must define LAYOUT, the official release "
                                 "layout as text (shown when a release folder does not match)")
    for spec in specs:
        unknown = [m for m in spec.metrics if m not in metrics]
        if unknown:
            raise DatasetModuleError(f"{where}: dataset {spec.name!r} lists unknown metric(s) "
                                     f"{', '.join(map(repr, unknown))}; known metrics: {', '.join(sorted(metrics))}")
        try:
            from avfmae.metrics import check_aggregation
            check_aggregation(spec.fold_aggregate, spec.metrics, where=f"dataset {spec.name!r}")
        except ValueError as e:
            raise DatasetModuleError(f"{where}: {e}") from None
        if spec.name in _MODULES and _MODULES[spec.name] is not module:
            raise DatasetModuleError(f"{where}: dataset {spec.name!r} is already defined in "
                                     f"{_MODULES[spec.name].__file__}")
    for alias, target in getattr(module, "ALIASES", {}).items():
        if target not in {s.name for s in specs}:
            raise DatasetModuleError(f"{where}: alias {alias!r} points to {target!r}, which this module does not define")
    return specs


def _discover() -> None:
    """Import every dataset module of benchmarks.datasets.sets and register its specs, in ORDER."""
    metrics = known_metric_names()
    modules = [importlib.import_module(f"{_sets_package.__name__}.{info.name}")
               for info in pkgutil.iter_modules(_sets_package.__path__) if not info.name.startswith("_")]
    modules.sort(key=lambda m: (getattr(m, "ORDER", 1_000_000), m.__name__))
    for module in modules:
        specs = _check_module(module, metrics)
        suites = getattr(module, "SUITES", None)
        for spec in specs:
            _MODULES[spec.name] = module
            register(spec, suites=tuple(suites) if suites is not None else ("all", spec.task.lower()))
        _ALIASES.update(getattr(module, "ALIASES", {}))


def canonical(name: str) -> str:
    key = name.strip().lower().replace("_", "-").replace(" ", "-")
    return _ALIASES.get(key, _ALIASES.get(key.replace("-", ""), key))


def get(name: str) -> DatasetSpec:
    """The spec called `name` (case-insensitive; common aliases such as 'casme2' or 'mer2023' work)."""
    key = canonical(name)
    if key not in _REGISTRY:
        close = difflib.get_close_matches(key, list(_REGISTRY), n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        known = ", ".join(list_datasets("all") + list_datasets("demo"))
        raise KeyError(f"unknown dataset {name!r}.{hint} Known: {known}")
    return _REGISTRY[key]


def module_of(name: str) -> ModuleType | None:
    """The dataset module that defines `name` (None for a spec registered by hand, e.g. in a test)."""
    return _MODULES.get(get(name).name)


def importer_of(name: str) -> Callable | None:
    """The `import_release` function of `name`'s module; None for a generated set (the demo)."""
    return getattr(module_of(name), "import_release", None)


def layout_of(name: str) -> str:
    """The official release layout `name`'s importer expects, as text (for a generated set: how to make it)."""
    module = module_of(name)
    if module is not None and hasattr(module, "LAYOUT"):
        return module.LAYOUT
    how = getattr(module, "GENERATOR", None)
    return f"{get(name).name} is generated, not imported" + (f": run `{how}`" if how else "")


def list_datasets(suite: str = "all") -> list[str]:
    """Names in a suite, in catalog order (the paper's table order)."""
    if suite not in _SUITES:
        raise KeyError(f"unknown suite {suite!r}; suites: {', '.join(_SUITES)}")
    return list(_SUITES[suite])


def suite_names() -> list[str]:
    return list(_SUITES)


def suite(name: str) -> list[DatasetSpec]:
    return [_REGISTRY[n] for n in list_datasets(name)]


def in_suite(dataset: str, suite_name: str) -> bool:
    return canonical(dataset) in list_datasets(suite_name)


_discover()
