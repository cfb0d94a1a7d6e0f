"""What a command line asks for, as a `plan.Request`: one place for `run`, `grid` and `status`.

`benchmarks.run` and `benchmarks.status SUITE` share `add_suite_args` / `suite_request`, and `benchmarks.grid`
and `benchmarks.status GRID` share `add_grid_args` / `grid_request`, so a status command given the same options
as the run command sees exactly the runs the run command planned.
"""
from __future__ import annotations

import argparse
import dataclasses

from .plan import Request
from .protocols import PROTOCOLS
from .recipe import Recipe, RecipeError, applicable
from .suites import get_suite


def parse_set(items: list[str]) -> dict:
    """`--set key=value` items -> {key: scalar} (ints, floats, true/false/none; the rest stays text)."""
    out = {}
    for item in items or ():
        if "=" not in item:
            raise SystemExit(f"--set {item!r}: write key=value (e.g. epochs=5, stage1.epochs=2, arch.fusion_depth=1)")
        k, v = item.split("=", 1)
        out[k.strip()] = _scalar(v.strip())
    return out


def _scalar(text: str):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"true": True, "false": False, "none": None}.get(text.lower(), text)


# ---------------------------------------------------------------------------------------------------- suites
def add_suite_args(ap: argparse.ArgumentParser, model_required: bool = True) -> None:
    ap.add_argument("--model", required=model_required,
                    help="zoo model, optionally with a weights tag (avfmae-base.mytag), or a model of your own "
                         "as package.module:factory (README: Evaluate your own model)"
                         + ("" if model_required else "; default: every run of the suite's datasets ever submitted "
                            "or stored"))
    ap.add_argument("--datasets", nargs="+", help="only these datasets of the suite (default: all of them)")
    ap.add_argument("--folds", nargs="+", help="only these folds (names as in `python -m benchmarks.data list`; "
                    "default: every fold)")
    ap.add_argument("--seeds", nargs="+", type=int, default=[0],
                    help="run every fold once per seed; a table row averages the seeds (default: 0)")
    ap.add_argument("--weights", help="weights to start from (or, with --protocol eval, to score): zoo tag, local "
                    ".safetensors/.pth, or hf:<repo>:<file>; per fold: a pattern 'ckpts/mafw-{fold}.pth' or a "
                    "fold -> path mapping file (.json / .tsv). Default: none (random init; the eval protocol needs "
                    "weights)")
    ap.add_argument("--protocol", choices=sorted(PROTOCOLS), help="paper: fine-tune, epoch chosen on the test "
                    "fold as the official code does; clean: chosen on held-out training subjects; probe: linear "
                    "probe on frozen features; eval: score --weights, no training (default: the suite's, paper)")
    ap.add_argument("--limit", type=int, default=0, help="use only the first N clips of each split (quick looks; "
                    "default: 0, every clip)")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="recipe item, recorded in the run key (repeatable): a stage-3 field (epochs=5), "
                         "stage1.<field>, stage2.<field>, arch.<field>, stages=1+3, preset=cpu")


def suite_request(suite_name: str, model: str, *, weights: str | None = None, datasets=None, folds=None,
                  seeds=(0,), protocol: str | None = None, items: dict | None = None, limit: int = 0) -> Request:
    """A suite's runs for one model. The suite's preset and stages apply unless the items say otherwise (and not
    to the probe protocol, which trains no stage; the eval protocol takes the preset, for how it runs, but no
    stages); a model given weights (a tag or --weights) is fine-tuned as it is (stages=3) unless the items ask
    for more."""
    suite = get_suite(suite_name)
    protocol = protocol or suite.protocol
    kind = PROTOCOLS[protocol].kind
    trains = kind == "finetune"
    base: dict = {}
    if suite.preset != "paper" and kind != "probe":
        base["preset"] = suite.preset
    own = ":" in model      # a model of your own (pkg.module:factory): no zoo tag, no pre-training stages
    if weights is not None and "." in model and not own:
        base_name, tag = model.split(".", 1)
        raise RecipeError(f"--model {model} already names its weights (tag {tag!r}), so --weights {weights} would "
                          f"not be used: drop --weights, or pass --model {base_name} --weights {weights}")
    if suite.stages != "3" and weights is None and "." not in model and not own and trains:
        base["stages"] = suite.stages
    if weights is not None:
        base["weights"] = str(weights)
    if limit:
        base["limit"] = limit
    unknown = [d for d in (datasets or ()) if d not in suite.datasets]
    if unknown:
        raise SystemExit(f"--datasets {' '.join(unknown)}: not in suite {suite.name} ({', '.join(suite.datasets)})")
    items = dict(items or {})
    if suite.grid and "stages" in base and "stages" not in items:
        recipes = _grid_arms(suite.grid, base, items)
    else:
        recipes = (Recipe.parse({**base, **items}),)
    return Request(models=(model,), datasets=tuple(datasets or suite.datasets), protocol=protocol,
                   recipes=recipes, folds=tuple(folds) if folds else None,
                   seeds=tuple(int(s) for s in seeds), label=f"suite {suite.name}")


def _grid_arms(name: str, base: dict, items: dict) -> tuple[Recipe, ...]:
    """A suite's grid (its reference and variants) with the command's items applied to every arm; stage-1/2
    items go only to the arms that run those stages (`--set stage1.epochs=1` does not make the scratch arm
    pre-train)."""
    from .gridspec import load

    suite_base = {k: v for k, v in base.items() if k != "stages"}      # each arm keeps its own stages
    return tuple(Recipe.parse(applicable({**suite_base, **arm.flat(), **items})) for arm in load(name).recipes())


def suite_request_from_args(suite_name: str, args: argparse.Namespace) -> Request:
    return suite_request(suite_name, args.model, weights=args.weights, datasets=args.datasets, folds=args.folds,
                         seeds=args.seeds, protocol=args.protocol, items=parse_set(args.overrides), limit=args.limit)


# ----------------------------------------------------------------------------------------------------- grids
def add_grid_args(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--models", nargs="+", help="replace the grid's models (e.g. avfmae-small)")
    ap.add_argument("--datasets", nargs="+", help="replace the grid's datasets (e.g. demo)")
    ap.add_argument("--folds", nargs="+", help="only these folds (default: every fold)")
    ap.add_argument("--cpu", action="store_true", help="CPU training presets (preset=cpu in every run)")


def grid_request(name: str, *, models=None, datasets=None, folds=None, cpu: bool = False) -> Request:
    from .gridspec import load

    grid = load(name)
    changes = {k: tuple(v) for k, v in (("models", models), ("datasets", datasets), ("folds", folds)) if v}
    if cpu:
        changes["base"] = {**grid.base, "preset": "cpu"}
    if changes:
        grid = dataclasses.replace(grid, **changes)
    return grid.request()


def grid_request_from_args(name: str, args: argparse.Namespace) -> Request:
    return grid_request(name, models=args.models, datasets=args.datasets, folds=args.folds, cpu=args.cpu)
