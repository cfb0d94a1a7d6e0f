"""`python -m avfmae.train {stage1,stage2,stage3}`: run a training stage from a preset plus key=value overrides.

    python -m avfmae.train stage1 --model avfmae-base --preset paper --work runs/s1 data=pretrain.tsv@/data/vox
    python -m avfmae.train stage2 --model avfmae-base --work runs/s2 init=avfmae-base.s1 \\
        "data=mafw-11/splits/fold1/train.tsv;dfew/splits/fold1/train.tsv" export_tag=s2
    python -m avfmae.train stage3 --model avfmae-base --preset paper-psi --work runs/mafw-f1 init=avfmae-base.s2 \\
        train=mafw-11/splits/fold1/train.tsv "test=mafw-11/splits/fold1/test.tsv|classes=11" selection=test
    python -m avfmae.train stage3 --model avfmae-micro --preset cpu \\
        train=~/avf-data/demo/splits/fold1/train.tsv test=~/avf-data/demo/splits/fold1/test.tsv
    python -m avfmae.train stage3 --model avfmae-base --print-config       # the resolved config, nothing run

Sources are split manifests (see avfmae.train.sources); the benchmark suite (`python -m benchmarks.run`) resolves
dataset names, and `python -m benchmarks.demonstration` runs the CPU three-stage demonstration.

Multi-GPU: `torchrun --nproc-per-node 8 -m avfmae.train stage1 ...` (or SLURM tasks via submitit / srun): the
per-process batch is `batch_size`, the global batch batch_size x processes x accum_steps.
Run `python -m avfmae.train stage3 --fields` for every config field with its default.
"""
from __future__ import annotations

import argparse
import json
import sys

from .config import CONFIGS, apply_overrides, describe_fields, stage_config


def _stage_parser(sub, stage: str) -> None:
    p = sub.add_parser(stage, help=CONFIGS[stage].__doc__.splitlines()[0],
                       description=CONFIGS[stage].__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=None, help="zoo model name (default: avfmae-base for paper presets, "
                   "avfmae-micro for cpu)")
    p.add_argument("--preset", default=None, help="paper | paper-psi (stage 3) | cpu | none (default: paper for "
                   "base/large/huge, else cpu)")
    p.add_argument("--work", default=None, help="work folder: checkpoints, logs, result.json (default runs/<stage>-"
                   "<model>)")
    p.add_argument("--print-config", action="store_true", help="print the resolved config as JSON and exit")
    p.add_argument("--fields", action="store_true", help="list every config field with its default and exit")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides")
    p.set_defaults(stage=stage)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m avfmae.train", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    for stage in CONFIGS:
        _stage_parser(sub, stage)
    args = ap.parse_args(argv)
    cls = CONFIGS[args.stage]
    if args.fields:
        for name, typ, default in describe_fields(cls):
            print(f"{name:20s} {typ:22s} {default!r}")
        return 0
    from .config import PAPER_SIZES
    model = args.model
    preset = args.preset or ("paper" if (model or "avfmae-base") in PAPER_SIZES else "cpu")
    try:
        cfg = stage_config(args.stage, preset, model)
        cfg = apply_overrides(cfg, args.overrides)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.print_config:
        print(json.dumps(cfg.to_dict(), indent=1, default=list))
        return 0
    work = args.work or f"runs/{args.stage}-{cfg.model}"
    from . import run_stage1, run_stage2, run_stage3
    run = {"stage1": run_stage1, "stage2": run_stage2, "stage3": run_stage3}[args.stage]
    result = run(cfg, work)
    summary = {k: v for k, v in result.items() if k not in ("predictions", "config", "history", "epochs")}
    print(json.dumps(summary, indent=1, default=str))
    return 0


if __name__ == "__main__":
    from avfmae.cli import run_main

    run_main(main)
