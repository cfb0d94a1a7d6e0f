"""Importers: read a dataset's official release folder and write our split manifests under the data root.

    from benchmarks.datasets.importers import prepare
    result = prepare("crema-d-6", raw="/data/CREMA-D")          # -> $AVF_DATA_ROOT/crema-d-6/splits/...

`plan_import(name, raw)` only reads names and label files and returns the `Plan` (clips per fold and split);
`prepare` also places the media (hard links by default, `mode="copy"` or `"in-place"`) and writes the
manifests. Errors in the release folder raise `DatasetLayoutError`, whose message names the missing file or
folder and shows the official layout expected there.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..registry import get
from ..spec import DatasetSpec, data_root
from . import avcaffe, cremad, dfew, iemocap, mafw, mer, micro, msp_improv, ravdess, werewolf
from ._base import DatasetLayoutError, Plan
from ._place import MODES, PlacementError, materialize

__all__ = ["IMPORTERS", "SOURCES", "MODES", "DatasetLayoutError", "PlacementError", "Plan", "PrepareResult",
           "plan_import", "prepare", "layout_of"]

Importer = Callable[..., Plan]

# name -> (importer, module holding the LAYOUT text(s))
IMPORTERS: dict[str, Importer] = {
    "mafw-11": mafw.import_mafw11,
    "mafw-43": mafw.import_mafw43,
    "dfew": dfew.import_dfew,
    "mer-multi": mer.import_mer2023,
    "mer24-tv": mer.import_mer2024,
    "crema-d-6": cremad.import_cremad,
    "crema-d-4": cremad.import_cremad,
    "msp-improv": msp_improv.import_msp_improv,
    "ravdess": ravdess.import_ravdess,
    "iemocap": iemocap.import_iemocap,
    "avcaffe": avcaffe.import_avcaffe,
    "werewolf-xl": werewolf.import_werewolf,
    "samm": micro.import_samm,
    "casme-ii": micro.import_casme2,
    "smic": micro.import_smic,
    "casme3": micro.import_casme3,
    "mmew": micro.import_mmew,
}
SOURCES = ("auto", "video", "faces")

_LAYOUTS = {
    "mafw-11": mafw.LAYOUT, "mafw-43": mafw.LAYOUT, "dfew": dfew.LAYOUT, "mer-multi": mer.LAYOUT_2023,
    "mer24-tv": mer.LAYOUT_2024, "crema-d-6": cremad.LAYOUT, "crema-d-4": cremad.LAYOUT,
    "msp-improv": msp_improv.LAYOUT, "ravdess": ravdess.LAYOUT, "iemocap": iemocap.LAYOUT,
    "avcaffe": avcaffe.LAYOUT, "werewolf-xl": werewolf.LAYOUT, "samm": micro.LAYOUT_SAMM,
    "casme-ii": micro.LAYOUT_CASME2, "smic": micro.LAYOUT_SMIC, "casme3": micro.LAYOUT_CASME3,
    "mmew": micro.LAYOUT_MMEW,
}


def layout_of(name: str) -> str:
    """The official release layout the importer of `name` expects, as text."""
    return _LAYOUTS[get(name).name]


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
    spec = get(name)
    if spec.name not in IMPORTERS:
        raise KeyError(f"{spec.name} has no importer (it is generated: see `python -m benchmarks.data synth`)")
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, not {source!r}")
    raw = Path(raw).expanduser()
    if not raw.is_dir():
        raise DatasetLayoutError(spec.name, raw, "release folder not found", _LAYOUTS[spec.name])
    plan = IMPORTERS[spec.name](spec, raw, source=source)
    plan.check()
    return plan


def prepare(name: str, raw: str | Path, root: str | Path | None = None, mode: str | None = None,
            source: str = "auto", log=print) -> PrepareResult:
    """Import `name` from its release folder `raw` into `root` (default `$AVF_DATA_ROOT`).

    mode: "link" (hard links, the default), "copy", or "in-place" (the default when `raw` already is the dataset
    folder under the data root)."""
    spec = get(name)
    root = Path(root).expanduser() if root is not None else data_root()
    plan = plan_import(spec.name, raw, source)
    dest = spec.path(root)
    if mode is None:
        same = dest.exists() and dest.resolve() == Path(raw).resolve()
        mode = "in-place" if same else "link"
    folder = materialize(plan, dest, mode, log=log)
    return PrepareResult(spec, folder, dest, plan, mode, spec.revision(root))
