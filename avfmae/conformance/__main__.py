"""`python -m avfmae.conformance DIR [DIR ...]`: check goldens recorded from the official code.

DIR is a model golden (config.json with constructor_kwargs + state dicts + inputs/outputs safetensors, like
../shared/reference/golden/avfmae-tiny) or a preprocessing golden (like ../shared/reference/golden/preprocess).
Prints max |ours - golden| per recorded tensor; exits 0 only if every tensor is within the reference tolerances
(eval tensors atol/rtol 1e-4, losses 1e-5, train-mode 5e-4, masks and integers exact; preprocessing 1e-6).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from .report import print_report


def check(folder: Path):
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise SystemExit(f"{folder}: no config.json; pass a golden folder (e.g. ../shared/reference/golden/avfmae-tiny)")
    config = json.loads(config_path.read_text())
    from .model import check_model_golden, is_model_golden
    if is_model_golden(config):
        return "model", check_model_golden(folder)
    try:
        from .preprocess import check_preprocess_golden, is_preprocess_golden
    except ImportError as e:  # pragma: no cover - data pipeline not installed
        raise SystemExit(f"{folder}: preprocessing checks unavailable ({e})")
    if is_preprocess_golden(config):
        return "preprocess", check_preprocess_golden(folder)
    raise SystemExit(f"{config_path}: neither a model golden (constructor_kwargs + calls) nor a preprocessing "
                     f"golden; see ../shared/reference/README.md for the formats")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m avfmae.conformance", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folders", nargs="+", type=Path, help="golden folders")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (the goldens were made with 1)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    ok = True
    for folder in args.folders:
        try:
            kind, results = check(folder)
        except ValueError as e:
            print(f"FAIL {folder}: {e}", file=sys.stderr)
            ok = False
            continue
        ok &= print_report(f"{folder} ({kind} golden)", results)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
