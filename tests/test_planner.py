"""One planner, a typed recipe (issue #9): status == run --dry-run, typos fail at plan time, presets are identity."""
import dataclasses

import pytest

from benchmarks import grid as grid_cli
from benchmarks import run, status
from benchmarks.gridspec import available, load
from benchmarks.plan import plan
from benchmarks.recipe import Recipe, RecipeError
from benchmarks.request import grid_request, suite_request
from benchmarks.store import ResultStore
from benchmark_fixtures import tiny_demo, use_env


@pytest.fixture(scope="module")
def demo_env(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("planner")
    mp = pytest.MonkeyPatch()
    use_env(mp, tmp)
    tiny_demo(tmp / "data")
    yield tmp
    mp.undo()


def _no_submit(monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("nothing may be submitted after a planning error")
    monkeypatch.setattr("benchmarks.executors.submit_runs", refuse)
    monkeypatch.setattr("benchmarks.run.submit_runs", refuse)


# ----------------------------------------------------------------------------------------------- one planner
def _status_keys(argv):
    args = status.build_parser().parse_args(argv)
    return status.keys_for(args, ResultStore())


@pytest.mark.parametrize("argv", [
    [],
    ["--set", "epochs=1", "--set", "stage1.epochs=1", "--limit", "6", "--folds", "fold2"],
    ["--weights", "WEIGHTS"],
    ["--protocol", "probe"],
])
def test_status_plans_the_runs_that_run_plans_for_the_demo_suite(demo_env, argv, tmp_path):
    if "WEIGHTS" in argv:   # a weights file: its sha is part of the identity
        w = tmp_path / "w.pth"
        w.write_bytes(b"not really weights, only hashed")
        argv = [str(w) if a == "WEIGHTS" else a for a in argv]
    run_args = run.build_parser().parse_args(["--model", "avfmae-micro", "--suite", "demo"] + argv)
    from benchmarks.request import suite_request_from_args
    planned = plan(suite_request_from_args("demo", run_args), ResultStore()).keys
    shown = _status_keys(["demo", "--model", "avfmae-micro"] + argv)
    assert planned and [k.signature for k in shown] == [k.signature for k in planned]
    # the suite's preset and stages are part of what both see (the bug: status dropped them); a model without
    # weights runs the claims grid's arms: the reference 1+2+3 and scratch / 1+3 / video / audio
    if "--weights" not in argv and "--protocol" not in argv:
        assert all(k.recipe.preset == "cpu" for k in shown)
        assert sorted({(k.recipe.stages, k.recipe.grid) for k in shown}) == [
            ("1+2+3", "claims"), ("1+2+3", "claims:reference"), ("1+3", "claims"), ("3", "claims")]
        assert len(shown) == 5 * len({k.fold for k in shown})


@pytest.mark.parametrize("name", available())
def test_status_plans_the_runs_that_grid_plans_for_every_grid(demo_env, name):
    opts = ["--models", "avfmae-micro", "--datasets", "demo", "--cpu"]
    args = grid_cli_args(name, opts)
    planned = plan(grid_request(name, models=args.models, datasets=args.datasets, cpu=True), ResultStore()).keys
    shown = _status_keys([name] + opts)
    assert planned and [k.signature for k in shown] == [k.signature for k in planned]
    assert all(k.recipe.preset == "cpu" and k.recipe.grid in (name, name + ":reference") for k in shown)


def grid_cli_args(name, opts):
    import argparse

    from benchmarks.request import add_grid_args
    ap = argparse.ArgumentParser()
    add_grid_args(ap)
    return ap.parse_args(opts)


# ----------------------------------------------------------------------------------------------- plan-time errors
def test_grid_typo_fails_at_plan_time_naming_the_key_and_the_valid_ones(demo_env, monkeypatch, capsys):
    _no_submit(monkeypatch)
    bad = dataclasses.replace(load("masking"), models=("avfmae-micro",), datasets=("demo",),
                              variants=({"stages": "1+3", "arch.mask_ratio_vidoe": 0.8},), base={"preset": "cpu"})
    with pytest.raises(RecipeError) as e:
        bad.plan()
    msg = str(e.value)
    assert "arch.mask_ratio_vidoe" in msg and "arch.mask_ratio_video" in msg and "grid masking" in msg
    monkeypatch.setattr("benchmarks.gridspec.load", lambda name: bad)
    monkeypatch.setattr("benchmarks.gridspec.available", lambda: ["masking"])
    assert grid_cli.main(["masking", "--executor", "inline"]) == 2
    assert "arch.mask_ratio_vidoe" in capsys.readouterr().err


@pytest.mark.parametrize("item, named", [
    ("epoch=3", "stage3.epochs"),                  # a stage-3 field with a typo: the close names are offered
    ("stage1.blrr=0.1", "stage1.blr"),
    ("stage9.epochs=1", "stage1."),                # an unknown prefix: the valid prefixes
    ("stages=2+3", "1+2+3"),
    ("epochs=many", "epochs"),                     # a bad value
    ("reprob=25", "reprob must be in [0, 1]"),     # a value out of its range (avfmae.train.domains)
    ("stage3.rrc_scale=1,0.08", "rrc_scale must be"),
    ("stage3.rand_augment=rand-m7-msd1", "'msd1'"),   # a RandAugment string timm would misread
    ("arch.mask_ratio_video=90", "mask_ratio_video must be in [0, 1)"),  # model fields too (a percentage)
])
def test_set_typo_fails_before_anything_runs(demo_env, monkeypatch, capsys, item, named):
    _no_submit(monkeypatch)
    assert run.main(["--model", "avfmae-micro", "--suite", "demo", "--executor", "inline", "--set", item]) == 2
    err = capsys.readouterr().err
    assert "error:" in err and named in err


def test_stage_keys_without_a_pipeline_are_refused(demo_env):
    with pytest.raises(RecipeError, match="need stages=1"):
        plan(suite_request("demo", "avfmae-micro", items={"stages": "3", "stage1.epochs": 2}), ResultStore())


# ----------------------------------------------------------------------------------------------- identity
def test_editing_a_preset_changes_the_run_key_and_old_keys_refuse_to_run(demo_env, monkeypatch):
    from avfmae.train import config as C
    from benchmarks.evaluate import resolve_key

    before = plan(suite_request("demo", "avfmae-micro", items={"stages": "1+3"}), ResultStore()).keys
    original = C._cpu

    def edited(stage, model):
        values = original(stage, model)
        return dict(values, epochs=values["epochs"] + 1) if stage == "stage3" else values
    monkeypatch.setattr(C, "_cpu", edited)
    after = plan(suite_request("demo", "avfmae-micro", items={"stages": "1+3"}), ResultStore()).keys
    assert len(before) == len(after) == 3
    assert all(a.config_hash != b.config_hash and a.signature != b.signature for a, b in zip(after, before))
    # a job still holding a key planned before the edit (a requeue, a queued array task) does not run it under
    # the old identity
    with pytest.raises(RecipeError, match="plan again"):
        resolve_key(before[0], ResultStore().work_dir(before[0]))
    resolved = resolve_key(after[0], ResultStore().work_dir(after[0]))
    assert resolved.configs["stage3"].epochs == original("stage3", "avfmae-micro")["epochs"] + 1


def test_runtime_only_fields_do_not_change_identity(demo_env):
    a = plan(suite_request("demo", "avfmae-micro", items={"progress": False, "num_workers": 3}), ResultStore())
    b = plan(suite_request("demo", "avfmae-micro"), ResultStore())
    c = plan(suite_request("demo", "avfmae-micro", items={"epochs": 2}), ResultStore())
    assert [k.config_hash for k in a.keys] == [k.config_hash for k in b.keys]
    assert all(x.config_hash != y.config_hash for x, y in zip(b.keys, c.keys))
    # nor the run key: a memory switch or another thread count finds the plain run's result and work folder
    d = plan(suite_request("demo", "avfmae-micro", items={"stages": "1+3", "stage1.grad_checkpointing": True,
                                                         "threads": 2}), ResultStore())
    e = plan(suite_request("demo", "avfmae-micro", items={"stages": "1+3"}), ResultStore())
    for x, y in ((a, b), (d, e)):
        assert [k.signature for k in x.keys] == [k.signature for k in y.keys]
        assert [k.name for k in x.keys] == [k.name for k in y.keys]
    assert all(x.signature != y.signature for x, y in zip(b.keys, c.keys))
    # ... while the job still gets the switches
    assert d.keys[0].to_dict()["recipe"]["stage1.grad_checkpointing"] is True


def test_recipe_flat_form_round_trips():
    r = Recipe.parse({"stages": "1+3", "epochs": 2, "stage3.blr": 0.1, "arch.fusion_depth": 1, "limit": "12",
                      "stage1.rrc_scale": [0.5, 1.0]})
    assert r.stage3 == (("blr", 0.1), ("epochs", 2)) and r.limit == 12 and r.stage1 == (("rrc_scale", (0.5, 1.0)),)
    assert Recipe.parse(r.flat()) == r
    assert r.flat() == {"stages": "1+3", "limit": 12, "arch.fusion_depth": 1, "stage1.rrc_scale": [0.5, 1.0],
                        "stage3.blr": 0.1, "stage3.epochs": 2}


def test_resolved_pipeline_configs_chain_through_tags(demo_env):
    from benchmarks.datasets import registry
    from benchmarks.evaluate import resolve_key

    keys = plan(suite_request("demo", "avfmae-micro", items={"stage1.epochs": 2}), ResultStore()).keys
    key = keys[0]
    assert key.recipe.grid == "claims:reference" and key.recipe.stages == "1+2+3"
    assert {k.recipe.stage1 for k in keys if k.recipe.stages == "3"} == {()}   # stage-1 items skip the scratch arm
    r = resolve_key(key, ResultStore().work_dir(key))
    s1, s2, s3 = r.configs["stage1"], r.configs["stage2"], r.configs["stage3"]
    assert s1.epochs == 2 and s1.init is None
    assert s2.init == f"avfmae-micro.{r.tags['stage1']}" and s3.init == f"avfmae-micro.{r.tags['stage2']}"
    spec = registry.get("demo")
    assert s3.num_classes == spec.num_classes and s3.selection == "test"
    # what runs reads the fold's data, not the symbolic names the identity uses
    assert s3.train == spec.split_source(key.fold, "train") and s3.test == spec.split_source(key.fold, "test")
    # stages 1 and 2 read the external corpus (every clip of demo-extra), labelled in stage 2, never the fold
    extra = registry.get("demo-extra")
    assert s1.data == (extra.split_source("fold1", "train"), extra.split_source("fold1", "test"))
    assert s2.data == tuple(extra.split_source("fold1", s, name="demo-extra") for s in ("train", "test"))
    # and so the pipeline tags do not depend on the fold: one pre-training serves every fold
    other = resolve_key(keys[1], ResultStore().work_dir(keys[1]))
    assert keys[1].fold != key.fold and other.tags == r.tags


@pytest.mark.parametrize("suite", ["all", "cea", "dea", "mer"])
def test_status_plans_the_runs_that_run_plans_for_every_paper_suite(tmp_path, monkeypatch, suite):
    """Every dataset "prepared" (split files only, as `python -m benchmarks.speed_plan` makes them)."""
    from avfmae.data.manifest import ClipRecord, write_manifest
    from benchmarks.datasets import registry
    from benchmarks.request import suite_request_from_args

    use_env(monkeypatch, tmp_path)
    for name in registry.list_datasets("all"):
        spec = registry.get(name)
        target = (0.5,) * spec.num_classes if spec.regression else 0
        recs = [ClipRecord(f"c{i}", f"v/{i}.mp4", None, target, f"s{i}") for i in range(4)]
        for fold in spec.folds:
            for split in ("train", "test"):
                write_manifest(spec.split_file(fold, split), recs)
    argv = ["--set", "epochs=2", "--seeds", "0", "1"]
    run_args = run.build_parser().parse_args(["--model", "avfmae-base", "--suite", suite] + argv)
    planned = plan(suite_request_from_args(suite, run_args), ResultStore())
    shown = _status_keys([suite, "--model", "avfmae-base"] + argv)
    assert not planned.absent and len(planned.keys) == 2 * sum(
        len(registry.get(d).folds) for d in registry.list_datasets(suite))
    assert [k.signature for k in shown] == [k.signature for k in planned.keys]


def test_a_fold_name_that_matches_no_dataset_is_a_planning_error(demo_env, capsys):
    """`--folds 1` (the demo set's folds are fold1..fold3): it planned 0 runs and the command ended '0 runs', done;
    now an error listing the folds. A name valid for one dataset of the request is fine."""
    with pytest.raises(RecipeError, match=r"--folds 1 fold9: no such fold \(the folds are demo: fold1, fold2, fold3\)"):
        plan(suite_request("demo", "avfmae-micro", folds=["1", "fold2", "fold9"]), ResultStore())
    assert run.main(["--model", "avfmae-micro", "--suite", "demo", "--folds", "1", "--dry-run"]) == 2
    assert "no such fold" in capsys.readouterr().err
    assert [k.fold for k in plan(suite_request("demo", "avfmae-micro", folds=["fold2"]), ResultStore()).keys] == \
        ["fold2"] * len(plan(suite_request("demo", "avfmae-micro", folds=["fold2"]), ResultStore()).keys)


def test_weights_given_beside_a_model_tag_are_refused_not_ignored(demo_env, capsys):
    """`--model avfmae-micro.mytag --weights other.pth`: the tag's weights were scored and --weights dropped
    without a word (the key and the tables said the tag); now an error saying which to drop."""
    with pytest.raises(RecipeError, match=r"avfmae-micro\.mytag already names its weights .*--weights other\.pth"):
        suite_request("demo", "avfmae-micro.mytag", weights="other.pth", protocol="eval")
    assert run.main(["--model", "avfmae-micro.mytag", "--weights", "other.pth", "--protocol", "eval", "--dry-run"]) == 2
    assert "drop --weights" in capsys.readouterr().err


def test_a_seed_or_model_given_twice_is_planned_once(demo_env):
    """`--seeds 0 0 1` planned fold x 3 runs, two with one key (the same run submitted twice, '3 runs' counted)."""
    keys = plan(suite_request("demo", "avfmae-micro", folds=["fold1"], seeds=[0, 0, 1], items={"stages": "3"}),
                ResultStore()).keys
    assert sorted(k.seed for k in keys) == [0, 1] and len({k.signature for k in keys}) == 2
    grid = plan(grid_request("masking", models=["avfmae-micro", "avfmae-micro"], datasets=["demo"], folds=["fold1"],
                             cpu=True), ResultStore()).keys
    assert len(grid) == len({k.signature for k in grid})
