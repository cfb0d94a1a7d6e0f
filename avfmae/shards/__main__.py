"""python -m avfmae.shards write|bench (see avfmae/shards/__init__.py)."""
from __future__ import annotations

import argparse
import sys


def main(argv=None) -> int:
    from avfmae.train.sources import SourceError, parse_source

    p = argparse.ArgumentParser(prog="python -m avfmae.shards", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("write", help="write a split manifest as tar shards (resumable)")
    w.add_argument("--manifest", required=True, help="split.tsv[@ROOT]")
    w.add_argument("--out", required=True)
    w.add_argument("--clips-per-shard", type=int, default=1000)
    w.add_argument("--workers", type=int, default=1)
    b = sub.add_parser("bench", help="clips/s from shards vs from the per-clip manifest")
    b.add_argument("--shards", required=True)
    b.add_argument("--manifest", required=True, help="split.tsv[@ROOT] the shards were written from")
    b.add_argument("--workers", type=int, default=1)
    b.add_argument("--limit", type=int, default=0, help="clips per path (0: all)")
    args = p.parse_args(argv)
    from avfmae.data.manifest import ManifestError

    from .format import ShardError
    try:
        src = parse_source(args.manifest)
        if args.cmd == "write":
            from .write import format_report, write_shards
            index = write_shards(src.manifest, src.root, args.out, args.clips_per_shard, args.workers,
                                 log=lambda m: print(m, file=sys.stderr, flush=True))
            print(format_report(index, args.out))
        else:
            from .bench import bench, format_bench
            print(format_bench(bench(args.shards, src.manifest, src.root, args.workers, args.limit)))
    except (SourceError, ManifestError, ShardError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    from avfmae.cli import run_main

    run_main(main)
