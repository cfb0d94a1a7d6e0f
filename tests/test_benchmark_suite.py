"""benchmarks.run / grid / status / leaderboard on a tiny synthetic set, in process."""
import json

import pytest

from benchmarks import leaderboard, run, status
from benchmarks.gridspec import Grid
from benchmarks.store import ResultStore
from benchmark_fixtures import TINY_RUN, tiny_demo, use_env


@pytest.fixture(scope="module")
def demo_env(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("suite")
    mp = pytest.MonkeyPatch()
    env = use_env(mp, tmp)
    tiny_demo(tmp / "data")
    yield tmp, env
    mp.undo()


def test_dry_run_lists_runs_and_absent_data(demo_env, capsys):
    assert run.main(["--model", "avfmae-micro", "--suite", "all", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "absent: mafw-11" in out and "python -m benchmarks.data prepare mafw-11" in out
    assert run.main(["--model", "avfmae-micro", "--suite", "demo", "--dry-run"]) == 0
    out = capsys.readouterr().out
    # the claims grid: the reference (1+2+3) and four comparisons, on each of the 3 folds
    assert "15 runs: 0 done, 0 failed before, 15 to run" in out


def test_demo_suite_three_stages_store_and_leaderboard(demo_env, capsys):
    tmp, _ = demo_env
    args = ["--model", "avfmae-micro", "--suite", "demo", "--folds", "fold1", "--executor", "inline"] + TINY_RUN
    assert run.main(args) == 0
    store = ResultStore()
    results = list(store.iter_results())
    assert len(results) == 5                            # the five arms on fold1
    rec = next(r for r in results if r["key"].recipe.grid == "claims:reference")
    assert set(rec["scores"]) == {"uar", "war", "wf1"} and 0 <= rec["scores"]["uar"] <= 100
    assert rec["key"].recipe.stages == "1+2+3" and rec["key"].recipe.preset == "cpu"
    # the resolved stage configs are stored with the result, under the hash the key carries
    assert set(rec["configs"]) == {"stage1", "stage2", "stage3"} and rec["config_hash"] == rec["key"].config_hash
    assert rec["configs"]["stage3"]["epochs"] == 1 and rec["configs"]["stage1"]["epochs"] == 1
    assert len(rec["confusion"]) == 6
    # the pipeline exported and registered stage-1 and stage-2 weights
    tags = json.loads((tmp / "zoo" / "tags.json").read_text())
    assert any(".s1-" in t for t in tags) and any(".s2-" in t for t in tags)
    # a second identical command runs nothing
    capsys.readouterr()
    assert run.main(args) == 0
    out = capsys.readouterr().out
    assert "5 runs: 5 done" in out
    # it ends with the main table, the comparisons and the claims, as measured (one fold of three: not yet)
    assert "Main table (" in out and "Comparisons (" in out
    assert out.count("no complete comparison yet") == 4 and "-> claim " not in out
    # leaderboards: built, and --check agrees; a hand edit is caught
    out = leaderboard.default_out(store)
    assert "Synthetic AV demo" in (out / "main.md").read_text()
    assert "fold2, fold3" in (out / "coverage.md").read_text()
    assert leaderboard.main(["check", "--out", str(out)]) == 0
    (out / "main.md").write_text((out / "main.md").read_text() + "edited\n")
    assert leaderboard.main(["check", "--out", str(out)]) == 1
    assert status.main(["demo", "--all"]) == 0
    assert "5 done" in capsys.readouterr().out
    # status given the run's options sees the run as done (it planned without preset/stages before: "missing")
    assert status.main(["demo", "--model", "avfmae-micro", "--folds", "fold1", "--all"] + TINY_RUN) == 0
    assert "5 done, 0 running, 0 pending, 0 failed, 0 missing (5 runs)" in capsys.readouterr().out


def test_grid_plans_variants_and_runs_only_missing(demo_env, capsys):
    grid = Grid(name="tiny", description="test grid", models=("avfmae-micro",), datasets=("demo",),
                variants=({"stages": "3"}, {"stages": "3", "arch.fusion_depth": 1}), folds=("fold2",),
                base={"preset": "cpu", "epochs": 1, "batch_size": 8, "progress": False})
    plan = grid.plan()
    assert len(plan.runs) == 2 and len(plan.todo) == 2
    from benchmarks.evaluate import evaluate_run
    from benchmarks.executors import submit_runs
    from benchmarks.runhandle import wait
    handles = submit_runs(evaluate_run, plan.todo, "inline")
    wait(handles)
    assert all(h.exception() is None for h in handles)
    assert grid.plan().todo == []
    files, _ = leaderboard.render(ResultStore())
    table = files["ablations/tiny.md"]
    assert "arch.fusion_depth=1" in table and "default" not in table.split("|---")[0]
    # every stored result keeps its per-clip predictions; the audit recomputes each score from them
    from benchmarks import audit, compare
    recs = list(ResultStore().iter_results(where=lambda r: r["key"].recipe.grid == "tiny"))
    assert len(recs) == 2 and all(len(r["predictions"]["clips"]) == r["n_test"] > 0 for r in recs)
    assert audit.main(["--strict"]) == 0
    # the two variants compared on the same clips of fold2: a markdown table
    assert compare.main(["avfmae-micro", "avfmae-micro", "--recipe-a", "arch.fusion_depth=1",
                         "--recipe-b", "stages=3", "--n-boot", "200"]) == 0
    out = capsys.readouterr().out
    assert "| demo (folds fold2 only) | UAR" in out, out


def test_published_leaderboards_match_the_committed_store():
    """leaderboards/ is generated from results/: committed markdown must equal what the store generates."""
    from pathlib import Path
    repo = Path(__file__).resolve().parent.parent
    assert leaderboard.main(["check", "--results", str(repo / "results"), "--out", str(repo / "leaderboards")]) == 0
