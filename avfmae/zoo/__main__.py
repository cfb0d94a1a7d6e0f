"""`python -m zoo list|info NAME` (also `python -m avfmae.zoo`): the registered models, sizes and weights tags."""
from __future__ import annotations

import argparse
import json
import sys

from tabulate import tabulate

from . import get_spec, list_models, tags_for
from .factory import describe
from .official import official_for
from .weights import zoo_dir


def _list(args) -> int:
    rows = []
    for name in list_models(args.pattern, include_test_sizes=not args.no_test_sizes):
        spec = get_spec(name)
        d = describe(spec)
        tags = ", ".join([r.tag for r in tags_for(name)] + [f"{w.tag} (hf)" for w in official_for(name)]) or "-"
        rows.append([name, f"{d['finetune_params']:,}", f"{d['pretrain_params']:,}",
                     spec.paper_params_m or "-", spec.arch_hash, tags])
    print(tabulate(rows, headers=["model", "fine-tune params", "pre-train params", "paper #PS (M)", "arch",
                                  "weights tags"], tablefmt="github"))
    print(f"\nfine-tune params include a {get_spec('avfmae-base').arch.num_classes}-class head for full sizes;"
          f" local weights tags live in {zoo_dir()}")
    return 0


def _info(args) -> int:
    spec = get_spec(args.name)
    out = spec.to_dict()
    out["sizes"] = describe(spec)
    out["weights"] = [r.__dict__ for r in tags_for(args.name)]
    out["official_weights"] = [{**w.__dict__, "reference": w.reference} for w in official_for(args.name)]
    print(json.dumps(out, indent=1, default=str))
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m zoo", description="AVF-MAE++ model zoo")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("list", help="table of registered models, parameter counts and weights tags")
    p.add_argument("pattern", nargs="?", default="*", help="glob on model names (default: all)")
    p.add_argument("--no-test-sizes", action="store_true", help="hide the tiny/small test variants")
    p.set_defaults(fn=_list)
    p = sub.add_parser("info", help="everything about one model as JSON")
    p.add_argument("name")
    p.set_defaults(fn=_info)
    args = ap.parse_args(argv)
    try:
        return args.fn(args)
    except KeyError as e:
        print(e.args[0], file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
