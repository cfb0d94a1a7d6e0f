"""A small suite and a small grid through the real SLURM cluster, with a job requeued mid-run."""
import subprocess
import time

import pytest

from benchmark_fixtures import TINY_RUN, tiny_demo, use_env
from test_slurm import slurm_cluster  # noqa: F401  (fixture: fails under CI without a cluster, else skips)

pytestmark = pytest.mark.slurm


@pytest.fixture()
def env(tmp_path, monkeypatch):
    use_env(monkeypatch, tmp_path)
    tiny_demo(tmp_path / "data")
    return tmp_path


def _wait_for(predicate, timeout, what):
    end = time.time() + timeout
    while time.time() < end:
        if predicate():
            return
        time.sleep(1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def test_suite_job_requeued_mid_run_finishes_with_one_result(slurm_cluster, env):  # noqa: F811
    from benchmarks import run
    from benchmarks.jobstatus import read_records
    from benchmarks.store import ResultStore

    args = ["--model", "avfmae-micro", "--suite", "demo", "--folds", "fold3", "--executor", "slurm",
            "--no-wait"] + TINY_RUN + ["--set", "epochs=3", "--set", "stages=1+2+3"]   # one run, not the 5 arms
    assert run.main(args) == 0
    store = ResultStore()
    records = read_records(store.root.parent / "submitit")
    assert len(records) == 1
    job_id = next(iter(records.values()))["job_id"]
    stage1_done = list((store.root.parent / "pipeline").glob("*/done"))
    _wait_for(lambda: list((store.root.parent / "pipeline").glob("*/done")) != stage1_done, 240,
              "stage 1 of the job to finish (so the requeue lands mid-run)")
    # stage 1 runs as its own job now; the run's (stage-3) job starts after it (afterok): requeue it once it runs
    _wait_for(lambda: subprocess.run(["squeue", "-h", "-j", str(job_id), "-o", "%T"], capture_output=True,
                                     text=True).stdout.strip() == "RUNNING", 120, "the run's job to start")
    subprocess.run(["scontrol", "requeue", str(job_id)], check=True)
    _wait_for(lambda: len(list(store.iter_results())) == 1, 400, "the requeued job's result")
    results = list(store.iter_results())
    assert len(results) == 1 and results[0]["key"].fold == "fold3"
    log = next((store.root.parent / "submitit").rglob(f"{job_id}*_log.err"), None)
    assert log is not None


def test_grid_through_slurm_runs_each_variant_once(slurm_cluster, env):  # noqa: F811
    from benchmarks.evaluate import evaluate_run
    from benchmarks.executors import submit_runs
    from benchmarks.runhandle import wait
    from benchmarks.gridspec import Grid

    grid = Grid(name="slurm-tiny", description="test", models=("avfmae-micro",), datasets=("demo",),
                variants=({"stages": "3"}, {"stages": "3", "arch.iavcl_refine": False}), folds=("fold1",),
                base={"preset": "cpu", "epochs": 1, "batch_size": 8, "progress": False})
    plan = grid.plan()
    handles = submit_runs(evaluate_run, plan.todo, "slurm", array_parallelism=2, name="grid-slurm-tiny")
    wait(handles, timeout=400)
    assert all(h.exception() is None for h in handles), [h.exception() for h in handles]
    assert grid.plan().todo == []
    again = submit_runs(evaluate_run, plan.todo, "slurm")   # duplicates are harmless: served from the store
    assert all(h.executor == "store" for h in again)
