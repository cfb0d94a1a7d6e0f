"""`features NAME --fold F --split S --model M --out DIR`: clip embeddings of a registered dataset's split.

A thin wrapper: the dataset name resolves to its manifest and data root here (avfmae does not know dataset
names), and `python -m avfmae.extract --manifest <split.tsv>@<root>` does the work (resumable, progress bar).
"""
from __future__ import annotations

from pathlib import Path


def add_parser(subparsers):
    p = subparsers.add_parser("features", help="clip embeddings of a dataset split (python -m avfmae.extract)",
                              description=__doc__.split("\n\n")[1])
    p.add_argument("name", help="registered dataset (python -m benchmarks.data list)")
    p.add_argument("--fold", required=True)
    p.add_argument("--split", default="test")
    p.add_argument("--model", required=True, help="zoo model name or name.tag")
    p.add_argument("--weights", default=None)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--regions", action="store_true")
    p.add_argument("--layers", action="store_true")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--no-progress", action="store_true")
    return p


def run(args) -> int:
    from avfmae.extract.__main__ import main as extract_main
    from benchmarks.datasets import registry

    try:
        spec = registry.get(args.name)
        manifest = spec.split_file(args.fold, args.split)
        root = spec.path()
    except (KeyError, ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}")
        return 2
    argv = ["--model", args.model, "--manifest", f"{manifest}@{root}", "--out", str(args.out),
            "--batch-size", str(args.batch_size)]
    argv += ["--weights", args.weights] if args.weights else []
    argv += [f for f, on in (("--regions", args.regions), ("--layers", args.layers),
                             ("--no-progress", args.no_progress)) if on]
    return extract_main(argv)
