"""Per-fold weights references: one fine-tuned checkpoint per fold, as released fine-tuned models come.

A run's weights (`--weights`, the recipe's `weights`) are either one reference for every fold (a zoo tag, a file,
hf:<repo>:<file>) or per fold:

    'ckpts/mafw-fold{fold}.pth'     a pattern: {fold} is replaced by the fold's name (fold1, fold2, ...)
    folds.json                      a mapping file: {"fold1": "ckpts/a.pth", "fold2": "hf:Conna/AVF-MAE:b.pth"}
    folds.tsv                       the same as lines "fold<TAB>path" ('#' starts a comment)

Relative paths in a mapping file are read from the mapping file's folder. Every RunKey then carries the sha256
of its own fold's file; a fold without weights is a plan-time error naming the fold and the path expected.
"""
from __future__ import annotations

import json
from pathlib import Path

FOLD_FIELD = "{fold}"
MAPPING_SUFFIXES = (".json", ".tsv")


class FoldWeightsError(ValueError):
    """A per-fold weights reference that names no usable weights for a fold."""


def is_per_fold(ref: str | None) -> bool:
    return bool(ref) and (FOLD_FIELD in ref or Path(ref).suffix.lower() in MAPPING_SUFFIXES)


def read_mapping(path: Path) -> dict[str, str]:
    """fold -> weights reference of a .json or .tsv mapping file (relative paths made absolute)."""
    if not path.is_file():
        raise FoldWeightsError(f"{path}: per-fold weights mapping file not found (a .json or .tsv of fold -> path)")
    text = path.read_text()
    raw: dict[str, str] = {}
    if path.suffix.lower() == ".json":
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as e:
            raise FoldWeightsError(f"{path}:{e.lineno}: not valid JSON ({e.msg}); write "
                                   '{"fold1": "path/to/fold1.pth", ...}') from None
        if not isinstance(obj, dict) or not all(isinstance(v, str) and v for v in obj.values()):
            raise FoldWeightsError(f'{path}: write one object of fold -> weights path, {{"fold1": "a.pth", ...}}')
        raw = {str(k): v for k, v in obj.items()}
    else:
        for n, line in enumerate(text.splitlines(), 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            parts = line.split("\t") if "\t" in line else line.split(None, 1)
            if len(parts) != 2 or not parts[0].strip() or not parts[1].strip():
                raise FoldWeightsError(f"{path}:{n}: write 'fold<TAB>weights path', got {line!r}")
            fold = parts[0].strip()
            if fold in raw:
                raise FoldWeightsError(f"{path}:{n}: fold {fold!r} is given twice")
            raw[fold] = parts[1].strip()
    return {fold: _absolute(ref, path.parent) for fold, ref in raw.items()}


def _absolute(ref: str, base: Path) -> str:
    if ref.startswith("hf:") or Path(ref).expanduser().is_absolute():
        return ref
    candidate = base / ref
    return str(candidate) if candidate.exists() or "/" in ref or ref.endswith((".pth", ".pt", ".bin",
                                                                               ".safetensors")) else ref


def fold_reference(ref: str, fold: str) -> str:
    """The weights reference of one fold (the reference itself when it is not per fold)."""
    if not is_per_fold(ref):
        return ref
    if FOLD_FIELD in ref:
        return ref.replace(FOLD_FIELD, str(fold))
    path = Path(ref).expanduser()
    mapping = read_mapping(path)
    if str(fold) not in mapping:
        add = f'an entry "{fold}": "path/to/weights"' if path.suffix.lower() == ".json" else \
            f"a line '{fold}<TAB>path/to/weights'"
        raise FoldWeightsError(f"{path}: no weights for fold {fold!r} (folds given: {', '.join(mapping) or 'none'});"
                               f" add {add}")
    return mapping[str(fold)]


def identity_marker(ref: str) -> str:
    """How a config identity names per-fold weights: the content of each fold's file is in its RunKey's
    weights_sha, so the configs of all folds share one hash (and one table row)."""
    return "weights:per-fold"


__all__ = ["is_per_fold", "fold_reference", "read_mapping", "identity_marker", "FoldWeightsError", "FOLD_FIELD"]
