"""The result store: one JSON file per RunKey; a run is done when its file parses.

Layout under the root (``$AVF_RESULTS_DIR``, else ``<repo>/runs/results``)::

    <root>/<dataset>/<model>/<signature>.json        the result (written atomically)
    <root>/<dataset>/<model>/<signature>.err.json    the last failure (traceback), removed by a later success
    <root>/../work/<signature>/                      the run's own scratch: checkpoints, logs, progress files

Writes go to a unique temp file in the same folder, are fsync'ed, then ``os.replace``d over the target, so a
reader sees either the previous complete file or the new complete file, and concurrent writers of one key end
with the last complete write. A file that does not parse or lacks ``key``/``scores`` (a half-written file from an
older tool, a hand edit) is reported with its path (logging + ``store.problems``) and treated as not done; a
listing never raises because of one bad file.
"""
from __future__ import annotations

import datetime as _dt
import functools
import json
import logging
import math
import os
import platform
import socket
import subprocess
import sys
import traceback
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

from avfmae.atomic import atomic_write_text

from .runkey import RunKey, _safe

log = logging.getLogger(__name__)

RESULTS_ENV = "AVF_RESULTS_DIR"
SCHEMA = 1
REPO_ROOT = Path(__file__).resolve().parents[1]
_VERSIONED = ("avfmae-suite", "torch", "torchaudio", "timm", "numpy", "scikit-learn", "submitit")


def default_root() -> Path:
    """``$AVF_RESULTS_DIR``, else ``runs/results`` under the repository."""
    env = os.environ.get(RESULTS_ENV)
    return Path(env).expanduser() if env else REPO_ROOT / "runs" / "results"


@dataclass(frozen=True)
class Problem:
    """A file the store could not use, and why."""
    path: Path
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


# ----------------------------------------------------------------------------------------------- provenance
def _jsonable(obj: Any) -> Any:
    """json.dumps fallback: numpy scalars/arrays, paths, sets, dataclass-like objects."""
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if hasattr(obj, "item"):
        return obj.item()
    if isinstance(obj, (Path, os.PathLike)):
        return str(obj)
    if isinstance(obj, (set, frozenset)):
        return sorted(obj, key=str)
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable; convert it before storing")


def _finite(obj: Any) -> Any:
    """NaN/inf become null (strict JSON); recurse through containers."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Mapping):
        return {str(k): _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


@functools.lru_cache(maxsize=1)
def git_info() -> dict:
    """sha + dirty flag of the repository this code runs from ($AVF_GIT_SHA wins, for code snapshots)."""
    if os.environ.get("AVF_GIT_SHA"):
        return {"sha": os.environ["AVF_GIT_SHA"], "dirty": None}
    try:
        sha = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return {"sha": sha or None, "dirty": bool(dirty) if sha else None}
    except (OSError, subprocess.SubprocessError):
        return {"sha": None, "dirty": None}


def versions() -> dict:
    out = {"python": platform.python_version()}
    for dist in _VERSIONED:
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    torch = sys.modules.get("torch")  # only when the run imported it: never import torch just to record it
    if torch is not None:
        out["cuda"] = getattr(torch.version, "cuda", None)
    return out


def job_info() -> dict:
    names = ("SLURM_JOB_ID", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID", "SLURM_RESTART_COUNT",
             "SUBMITIT_LOCAL_JOB_ID", "SLURM_CLUSTER_NAME")
    return {n.lower(): os.environ[n] for n in names if n in os.environ}


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


# ----------------------------------------------------------------------------------------------- the store
class ResultStore:
    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root).expanduser() if root is not None else default_root()
        self.problems: list[Problem] = []
        self._reported: set = set()

    def __repr__(self) -> str:
        return f"ResultStore({str(self.root)!r})"

    # ------------------------------------------------------------------ paths
    def path(self, key: RunKey) -> Path:
        return self.root / _safe(key.dataset) / _safe(key.model) / f"{key.signature}.json"

    def failure_path(self, key: RunKey) -> Path:
        return self.root / _safe(key.dataset) / _safe(key.model) / f"{key.signature}.err.json"

    def view_cache_dir(self) -> Path:
        """Decoded views shared by every run beside this store (`<root>/../view-cache`): a cache file is named by
        the hash of its clips and preprocessing, so runs on the same split decode it once."""
        return self.root.resolve().parent / "view-cache"

    def work_dir(self, key: RunKey, create: bool = True) -> Path:
        """The run's scratch folder (checkpoints, progress, logs): ``<root>/../work/<signature>``."""
        d = self.root.parent / "work" / key.signature
        if create:
            d.mkdir(parents=True, exist_ok=True)
        return d

    # ------------------------------------------------------------------ reading
    def _report(self, path: Path, reason: str) -> None:
        problem = Problem(path, reason)
        try:
            stamp = path.stat().st_mtime_ns
        except OSError:
            stamp = None
        if (path, stamp) not in self._reported:
            self._reported.add((path, stamp))
            self.problems.append(problem)
            log.warning("result store: ignoring %s (treated as not done)", problem)

    def load(self, path: Path, key: RunKey | None = None) -> dict | None:
        """Parse and validate one result file; None (and a reported Problem) when unusable."""
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as e:
            self._report(Path(path), f"unreadable: {e}")
            return None
        try:
            rec = json.loads(text)
        except ValueError as e:
            self._report(Path(path), f"not valid JSON ({e}); delete it or re-run the key")
            return None
        if not isinstance(rec, dict) or not isinstance(rec.get("key"), dict) or not isinstance(rec.get("scores"), dict):
            self._report(Path(path), "JSON without the 'key' and 'scores' objects of a result")
            return None
        try:
            stored = RunKey.from_dict(rec["key"])
        except (TypeError, ValueError) as e:
            self._report(Path(path), f"its 'key' is not a RunKey: {e}")
            return None
        if Path(path).name.split(".")[0] not in (stored.signature, stored.legacy_signature):
            self._report(Path(path), f"its key has signature {stored.signature}, not the file name's "
                                     "(hand-edited, or written by another version of RunKey)")
            return None
        if key is not None and not stored.same_run(key):   # runtime fields (progress, threads) may differ
            self._report(Path(path), f"holds {stored.name}, expected {key.name} (signature collision?)")
            return None
        rec["key"] = stored
        return rec

    def get(self, key: RunKey) -> dict | None:
        """The stored result (its ``"key"`` as a RunKey), or None when missing or unusable; a result stored under
        the key's legacy signature (RunKey.legacy_signature) counts."""
        rec = self.load(self.path(key), key)
        if rec is None and key.legacy_signature:
            rec = self.load(self.path(key).with_name(f"{key.legacy_signature}.json"), key)
        return rec

    def is_done(self, key: RunKey) -> bool:
        return self.get(key) is not None

    def failure(self, key: RunKey) -> dict | None:
        path = self.failure_path(key)
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as e:
            self._report(path, f"unreadable failure record: {e}")
            return {"error": "unreadable failure record", "path": str(path)}

    def status(self, key: RunKey) -> str:
        """'done' | 'failed' (a failure record and no result) | 'missing'."""
        if self.is_done(key):
            return "done"
        return "failed" if self.failure_path(key).exists() else "missing"

    def iter_results(self, where: Callable[[dict], bool] | None = None, **filters: Any) -> Iterator[dict]:
        """Yield every valid result, optionally filtered on RunKey fields (a value or a collection of accepted
        values, e.g. ``dataset="demo"``, ``fold={"1", "2"}``) and/or a predicate on the record. Unusable files are
        reported (``problems``) and skipped."""
        known = set(RunKey.__dataclass_fields__)
        bad = set(filters) - known
        if bad:
            raise TypeError(f"iter_results: unknown filters {sorted(bad)}; use RunKey fields {sorted(known)}")
        accept = {k: ({v} if isinstance(v, (str, int)) or v is None else set(v)) for k, v in filters.items()}
        if "fold" in accept:
            accept["fold"] = {str(v) for v in accept["fold"]}
        base = self.root
        if not base.is_dir():
            return
        ds = accept.get("dataset")
        md = accept.get("model")
        ds_dirs = [base / _safe(d) for d in ds] if ds else sorted(p for p in base.iterdir() if p.is_dir())
        for ddir in ds_dirs:
            if not ddir.is_dir():
                continue
            m_dirs = [ddir / _safe(m) for m in md] if md else sorted(p for p in ddir.iterdir() if p.is_dir())
            for mdir in m_dirs:
                if not mdir.is_dir():
                    continue
                for path in sorted(mdir.glob("*.json")):
                    if path.name.startswith(".") or path.name.endswith(".err.json"):
                        continue
                    rec = self.load(path)
                    if rec is None:
                        continue
                    key = rec["key"]
                    if any(getattr(key, f) not in vals for f, vals in accept.items()):
                        continue
                    if where is not None and not where(rec):
                        continue
                    yield rec

    def scan(self) -> tuple[list[dict], list[Problem]]:
        """All valid results and the problems found in this listing."""
        before = len(self.problems)
        self._reported.clear()
        results = list(self.iter_results())
        return results, self.problems[before:]

    # ------------------------------------------------------------------ writing
    def put(self, key: RunKey, result: Mapping[str, Any]) -> Path:
        """Store the result of ``key``. ``result`` needs ``scores`` ({metric: number}); may carry ``confusion``,
        ``timings`` and any JSON-able extras (history, best_epoch, ...). Provenance (versions, git, host, date,
        job ids) is added unless given. Returns the file path."""
        if not isinstance(result, Mapping) or not isinstance(result.get("scores"), Mapping):
            raise ValueError(f"{key.name}: a result needs a 'scores' mapping {{metric: value}}, got {result!r:.200}")
        carried = result.get("key")
        if carried is not None:
            other = carried if isinstance(carried, RunKey) else RunKey.from_dict(carried)
            if not other.same_run(key):
                raise ValueError(f"refusing to store a result of {other.name} under {key.name}: the result's key "
                                 "is not the key it is stored for")
        rec: dict[str, Any] = {"schema": SCHEMA, "key": key.to_dict(), "name": key.name, "signature": key.signature}
        for k, v in result.items():
            if k not in ("key", "name", "signature", "schema"):
                rec[k] = v
        rec.setdefault("confusion", None)
        rec.setdefault("timings", {})
        rec.setdefault("versions", versions())
        rec.setdefault("git", git_info())
        rec.setdefault("host", socket.gethostname())
        rec.setdefault("created_at", _now())
        rec.setdefault("job", job_info())
        text = json.dumps(_finite(json.loads(json.dumps(rec, default=_jsonable))), indent=1, sort_keys=True,
                          allow_nan=False)
        path = self.path(key)
        atomic_write_text(path, text + "\n")
        self.failure_path(key).unlink(missing_ok=True)
        return path

    def put_failure(self, key: RunKey, error: BaseException | str, **extra: Any) -> Path:
        """Record why ``key`` failed (its traceback); ``status`` then says 'failed' until a result arrives."""
        if isinstance(error, BaseException):
            text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        else:
            text = str(error)
        rec = {"schema": SCHEMA, "key": key.to_dict(), "name": key.name, "signature": key.signature,
               "error": text, "host": socket.gethostname(), "created_at": _now(), "job": job_info(), **extra}
        path = self.failure_path(key)
        atomic_write_text(path, json.dumps(_finite(json.loads(json.dumps(rec, default=_jsonable))), indent=1) + "\n")
        return path

    def delete(self, key: RunKey) -> None:
        self.path(key).unlink(missing_ok=True)
        self.failure_path(key).unlink(missing_ok=True)

