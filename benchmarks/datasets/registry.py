"""Dataset registry: name -> DatasetSpec, and the named suites (`all`, `cea`, `dea`, `mer`, `demo`).

The 17 catalog specs are registered at import. The synthetic demo set lives in `benchmarks.datasets.synth`
(its `SPEC`) and is loaded lazily, the first time a caller asks for it, so that importing the registry never
pulls in the media generator; while that module does not exist the demo suite is simply empty.
"""
from __future__ import annotations

import difflib
import importlib

from .catalog import SPECS
from .spec import DatasetSpec

_REGISTRY: dict[str, DatasetSpec] = {}
_SUITES: dict[str, list[str]] = {"all": [], "cea": [], "dea": [], "mer": [], "demo": []}
_ALIASES = {
    "mafw": "mafw-11", "mafw11": "mafw-11", "mafw43": "mafw-43", "mer2023": "mer-multi", "mer23": "mer-multi",
    "mer2024": "mer24-tv", "mer24": "mer24-tv", "crema-d": "crema-d-6", "cremad": "crema-d-6",
    "msp": "msp-improv", "mspimprov": "msp-improv", "werewolf": "werewolf-xl", "casme2": "casme-ii",
    "casmeii": "casme-ii", "cas(me)3": "casme3", "cas(me)^3": "casme3", "casme^3": "casme3", "smic-hs": "smic",
}
_demo_state = {"tried": False}


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


def _load_demo() -> None:
    """Register `benchmarks.datasets.synth.SPEC` in the demo suite, once; tolerate the module's absence."""
    if _demo_state["tried"]:
        return
    _demo_state["tried"] = True
    try:
        synth = importlib.import_module("benchmarks.datasets.synth")
    except ModuleNotFoundError as err:
        if err.name not in ("benchmarks.datasets.synth",):
            raise
        return
    spec = getattr(synth, "SPEC", None)
    if isinstance(spec, DatasetSpec):
        register(spec, suites=("demo",), overwrite=True)


def canonical(name: str) -> str:
    key = name.strip().lower().replace("_", "-").replace(" ", "-")
    return _ALIASES.get(key, _ALIASES.get(key.replace("-", ""), key))


def get(name: str) -> DatasetSpec:
    """The spec called `name` (case-insensitive; common aliases such as 'casme2' or 'mer2023' work)."""
    key = canonical(name)
    if key not in _REGISTRY:
        _load_demo()
    if key not in _REGISTRY:
        close = difflib.get_close_matches(key, list(_REGISTRY), n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        known = ", ".join(list_datasets("all") + list_datasets("demo"))
        raise KeyError(f"unknown dataset {name!r}.{hint} Known: {known}")
    return _REGISTRY[key]


def list_datasets(suite: str = "all") -> list[str]:
    """Names in a suite, in catalog order (the paper's table order)."""
    if suite == "demo":
        _load_demo()
    if suite not in _SUITES:
        raise KeyError(f"unknown suite {suite!r}; suites: {', '.join(_SUITES)}")
    return list(_SUITES[suite])


def suite_names() -> list[str]:
    return list(_SUITES)


def suite(name: str) -> list[DatasetSpec]:
    return [_REGISTRY[n] for n in list_datasets(name)]


def in_suite(dataset: str, suite_name: str) -> bool:
    return canonical(dataset) in list_datasets(suite_name)


for _spec in SPECS:
    register(_spec, suites=("all", _spec.task.lower()))
