"""Importers: read a dataset's official release folder and write our split manifests under the data root.

    from benchmarks.datasets.importers import prepare
    result = prepare("crema-d-6", raw="/data/CREMA-D")          # -> $AVF_DATA_ROOT/crema-d-6/splits/...

`plan_import(name, raw)` only reads names and label files and returns the `Plan` (clips per fold and split);
`prepare` also places the media (hard links by default, `mode="copy"` or `"in-place"`) and writes the
manifests. Errors in the release folder raise `DatasetLayoutError`, whose message names the missing file or
folder and shows the official layout expected there.

Each dataset's importer lives in its own module of `benchmarks.datasets.sets` (with its spec and layout); this
package holds what they share: the plan and the layout error (`_base`), media placement and manifest writing
(`_place`) and the spreadsheet reader (`_xlsx`).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..spec import DatasetSpec, data_root
from ._base import DatasetLayoutError, Plan
from ._place import MODES, PlacementError, materialize

__all__ = ["IMPORTERS", "SOURCES", "MODES", "DatasetLayoutError", "PlacementError", "Plan", "PrepareResult",
           "plan_import", "prepare", "layout_of"]

Importer = Callable[..., Plan]
SOURCES = ("auto", "video", "faces")


def __getattr__(name: str):
    """`IMPORTERS`: dataset name -> its module's `import_release`, read from the registry when first asked for
    (the dataset modules import this package's helpers, so it must not import them at its own import)."""
    if name == "IMPORTERS":
        from .. import registry
        return {n: f for n in registry.list_datasets("all") + registry.list_datasets("demo")
                if (f := registry.importer_of(n)) is not None}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def layout_of(name: str) -> str:
    """The official release layout the importer of `name` expects, as text."""
    from .. import registry
    return registry.layout_of(name)


@dataclass
class PrepareResult:
    spec: DatasetSpec
    folder: Path          # the dataset folder written (the release folder itself for in-place)
    path: Path            # where readers find it: $AVF_DATA_ROOT/<root>
    plan: Plan
    mode: str
    revision: str


def plan_import(name: str, raw: str | Path, source: str = "auto") -> Plan:
    """Read the release at `raw` and return the clips of every fold and split (nothing is written)."""
    from .. import registry
    spec = registry.get(name)
    importer = registry.importer_of(spec.name)
    if importer is None:
        raise KeyError(f"{spec.name} has no importer (it is generated: see `python -m benchmarks.data synth`)")
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, not {source!r}")
    raw = Path(raw).expanduser()
    if not raw.is_dir():
        raise DatasetLayoutError(spec.name, raw, "release folder not found", registry.layout_of(spec.name))
    plan = importer(spec, raw, source=source)
    plan.check()
    return plan


def prepare(name: str, raw: str | Path, root: str | Path | None = None, mode: str | None = None,
            source: str = "auto", log=print) -> PrepareResult:
    """Import `name` from its release folder `raw` into `root` (default `$AVF_DATA_ROOT`).

    mode: "link" (hard links, the default), "copy", or "in-place" (the default when `raw` already is the dataset
    folder under the data root)."""
    from .. import registry
    spec = registry.get(name)
    root = Path(root).expanduser() if root is not None else data_root()
    plan = plan_import(spec.name, raw, source)
    dest = spec.path(root)
    if mode is None:
        same = dest.exists() and dest.resolve() == Path(raw).resolve()
        mode = "in-place" if same else "link"
    folder = materialize(plan, dest, mode, log=log)
    return PrepareResult(spec, folder, dest, plan, mode, spec.revision(root))
