"""Data-parallel training on CPU (gloo, 2 ranks spawned here): launcher detection and refusals, the pipeline's
rank-0 lock (no deadlock), logs that hold the global truth, one checkpoint per step, a held-out stage-1 loss
that does not depend on the process count, and stage 1 on 2 ranks equal to 1 process with accumulation."""
from __future__ import annotations

import csv
import datetime
import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from avfmae.train import run_stage1
from avfmae.train import distributed as D
from avfmae.train.loop import TrainLoop
from avfmae.train.schedule import CosineSchedule
from train_fixtures import tiny_demo, tiny_stage1, tiny_stage3

ROOT = Path(__file__).resolve().parents[1]
LAUNCH_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _clean_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "SUBMITIT_")) and k not in LAUNCH_VARS}
    env.update(extra)
    return env


def _spawn(fn, *args, world: int = 2, timeout: float = 240.0):
    """Run fn(rank, port, *args) in `world` gloo ranks; fail (not hang) after `timeout` seconds."""
    port = _free_port()
    ctx = mp.start_processes(fn, args=(port, *args), nprocs=world, join=False, start_method="spawn")
    end = time.time() + timeout
    while not ctx.join(timeout=max(0.1, end - time.time())):
        if time.time() > end:
            for p in ctx.processes:
                p.kill()
            pytest.fail(f"{fn.__name__}: the ranks did not finish within {timeout} s (deadlock)")


def _join(rank: int, port: int, world: int = 2, zoo: str | None = None) -> D.DistInfo:
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port), OMP_NUM_THREADS="1")
    if zoo:
        os.environ["AVF_ZOO_DIR"] = zoo
    torch.set_num_threads(1)
    return D.init_distributed("cpu", 1, 60)


# ------------------------------------------------------------------------------------------ launcher detection
BATCH_SHELL = dict(SLURM_NTASKS="2", SLURM_PROCID="0", SLURM_JOB_ID="5", SLURM_JOB_NODELIST="vm")


def test_sbatch_shell_without_srun_is_refused_not_left_waiting(monkeypatch):
    monkeypatch.setattr(os, "environ", _clean_env(**BATCH_SHELL))
    with pytest.raises(D.NotInJobStep, match=r"SLURM_NTASKS=2 .*srun python -m avfmae.train"):
        D.init_distributed("cpu")
    # one task of a 2-task srun step is fine (what .ci/slurm.sh's cluster sets: measured with sbatch -n 2)
    assert D._slurm_batch_shell_problem(dict(BATCH_SHELL, SLURM_STEP_ID="0", SLURM_STEP_NUM_TASKS="2")) is None
    # a 1-task step inside a 2-task allocation (srun -n 1) is not one of 2 ranks either
    assert "SLURM_STEP_NUM_TASKS=1" in D._slurm_batch_shell_problem(
        dict(BATCH_SHELL, SLURM_STEP_ID="1", SLURM_STEP_NUM_TASKS="1", SLURM_NTASKS="2"))


def test_launch_rank_reads_every_launcher_without_a_group():
    assert (D.launch_rank({}), D.launch_world_size({})) == (0, 1)
    assert (D.launch_rank({"RANK": "3", "WORLD_SIZE": "4"}), D.launch_world_size({"RANK": "3", "WORLD_SIZE": "4"})) \
        == (3, 4)
    step = dict(BATCH_SHELL, SLURM_PROCID="1", SLURM_STEP_ID="0", SLURM_STEP_NUM_TASKS="2")
    assert (D.launch_rank(step), D.launch_world_size(step)) == (1, 2)
    local = {"SUBMITIT_EXECUTOR": "local", "SUBMITIT_LOCAL_NTASKS": "2", "SUBMITIT_LOCAL_GLOBALID": "1"}
    assert (D.launch_rank(local), D.launch_world_size(local)) == (1, 2)


def test_rendezvous_logs_the_rank_count_and_uses_the_configured_timeout(monkeypatch, caplog):
    seen = {}
    monkeypatch.setattr(os, "environ", _clean_env(RANK="1", WORLD_SIZE="2", MASTER_ADDR="h", MASTER_PORT="9"))
    monkeypatch.setattr(D.dist, "init_process_group", lambda *a, **k: seen.update(k))
    with caplog.at_level(logging.INFO, logger="avfmae.train"):
        info = D.init_distributed("cpu", 0, timeout_s=42)
    assert seen["timeout"] == datetime.timedelta(seconds=42) and info.world_size == 2
    assert "waiting for 2 ranks" in caplog.text and "timeout 42 s" in caplog.text
    assert tiny_stage1(Path("x")).dist_timeout_s == 1800
    with pytest.raises(ValueError, match="dist_timeout_s"):
        tiny_stage1(Path("x"), dist_timeout_s=0)


def test_local_executor_tasks_form_one_group(monkeypatch):
    """submitit's local executor with tasks_per_node=2: the two tasks join one group (they used to train twice
    in one work dir)."""
    seen = {}
    monkeypatch.setattr(os, "environ", _clean_env(SUBMITIT_EXECUTOR="local", SUBMITIT_LOCAL_NTASKS="2",
                                                  SUBMITIT_LOCAL_GLOBALID="1", SUBMITIT_LOCAL_LOCALID="1",
                                                  SUBMITIT_LOCAL_NODEID="0", SUBMITIT_LOCAL_JOB_NUM_NODES="1",
                                                  SUBMITIT_LOCAL_JOB_ID="4242", SUBMITIT_FOLDER="/tmp"))
    monkeypatch.setattr(D.dist, "init_process_group", lambda *a, **k: seen.update(k))
    info = D.init_distributed("cpu")
    assert (info.rank, info.world_size, info.launcher) == (1, 2, "submitit-local") and seen["world_size"] == 2


# ------------------------------------------------------------------------------------------ the pipeline lock
def _pipeline_worker(rank, port, root, zoo, calls):
    info = _join(rank, port, zoo=zoo)
    import avfmae.train as T
    from benchmarks import pipeline

    pipeline.LOCK_POLL_S = 0.2

    def fake_stage1(cfg, folder):          # trains "together": a collective every rank must reach
        D.init_distributed("cpu")          # what setup() does: the existing group
        t = D.all_reduce_sum(info, torch.ones(1))
        with open(calls, "a") as f:
            f.write(f"{rank} {int(t.item())}\n")
    T.run_stage1 = fake_stage1
    pipeline._is_done = lambda model, tag, folder: (folder / "done").is_file()
    cfg = tiny_stage1(Path(root))
    for _ in range(2):                     # the second call finds it done, in every rank
        assert pipeline._stage("stage1", cfg, "tagx", Path(root), Path(root) / "view-cache") == "avfmae-micro.tagx"
    D.cleanup(info)


def test_pipeline_stage_with_two_ranks_trains_once_without_deadlock(tmp_path):
    from avfmae.atomic import file_lock

    calls = tmp_path / "calls.txt"
    with file_lock(tmp_path / "tagx" / ".lock"):      # another job holds it at first: the ranks wait, then go
        port_ctx = mp.start_processes(_pipeline_worker, args=(_free_port(), str(tmp_path), str(tmp_path / "zoo"),
                                                              str(calls)), nprocs=2, join=False,
                                      start_method="spawn")
        time.sleep(3)
        assert not calls.exists()
    end = time.time() + 120
    while not port_ctx.join(timeout=1):
        if time.time() > end:
            for p in port_ctx.processes:
                p.kill()
            pytest.fail("pipeline stage with 2 ranks deadlocked")
    assert sorted(calls.read_text().split("\n")[:-1]) == ["0 2", "1 2"]      # once per rank, both in the group
    assert (tmp_path / "tagx" / "done").read_text() == "tagx\n"


# ------------------------------------------------------------------------------------------ logs and checkpoints
def _loop_worker(rank, port, work):
    info = _join(rank, port)
    cfg = tiny_stage3(Path("x"), log_every=1, checkpoint_every=0)
    torch.manual_seed(0)
    model = torch.nn.Linear(2, 1, bias=False)
    opt = torch.optim.SGD(model.parameters(), lr=0.0)

    def batches(start, stop):
        for s in range(start, stop):
            yield s, [{"x": torch.full((1, 2), float(rank + 1))}]

    def step_fn(m, batch, seed):             # rank 0's loss is 1, rank 1's is 3: the global mean is 2
        loss = (m(batch["x"]) * 0).sum() + batch["x"].sum() - 1.0
        return loss, {"x_mean": float(batch["x"].mean())}

    TrainLoop(cfg, model, info, work, opt, CosineSchedule(0.0, 0.0, 2), 2, 2, batches, step_fn).run()
    D.cleanup(info)


def test_logged_loss_is_the_mean_over_ranks(tmp_path):
    _spawn(_loop_worker, str(tmp_path))
    rows = list(csv.DictReader(open(tmp_path / "log.csv")))
    assert [float(r["loss"]) for r in rows] == [2.0, 2.0]          # (1 + 3) / 2, not rank 0's 1
    assert [float(r["x_mean"]) for r in rows] == [1.5, 1.5]


def test_the_last_step_is_checkpointed_once(tmp_path, monkeypatch):
    from avfmae.train import loop as L

    saved = []
    real = L.ckpt.save_checkpoint
    monkeypatch.setattr(L.ckpt, "save_checkpoint", lambda path, **kw: (saved.append(kw["step"]), real(path, **kw)))
    cfg = tiny_stage3(Path("x"), log_every=1, checkpoint_every=2)
    model = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)

    def batches(start, stop):
        for s in range(start, stop):
            yield s, [{"x": torch.ones(2, 2)}]

    TrainLoop(cfg, model, D.DistInfo(), tmp_path, opt, CosineSchedule(0.1, 0.0, 4), 4, 2, batches,
              lambda m, b, seed: (m(b["x"]).mean(), {})).run()
    assert saved == [2, 4]        # each epoch's end once (checkpoint_every coincides with it; the end adds none)


# ------------------------------------------------------------------------------------------ stage 1 held-out loss
def _eval_worker(rank, port, data, cache, out, world):
    info = _join(rank, port, world=world) if world > 1 else D.init_distributed("cpu", 1)
    from avfmae import zoo
    from avfmae.train.common import eval_set, setup
    from avfmae.train.sources import load_entries, parse_source
    from avfmae.train.stage1 import evaluate_reconstruction

    cfg = tiny_stage1(Path(data), cache_dir=cache, batch_size=2)
    ctx = setup(cfg, Path(out) / "work")
    ds = eval_set(ctx, load_entries([parse_source(f"{data}/splits/fold1/test.tsv")], drop_labels=True), "centre",
                  "s1-eval")
    torch.manual_seed(0)
    model = zoo.create_model("avfmae-micro", pretrain=True).eval()
    res = evaluate_reconstruction(ctx, model, ds)
    if info.is_main:
        torch.save(res, Path(out) / f"eval-{world}.pt")
    D.cleanup(info)


def test_held_out_stage1_loss_does_not_depend_on_the_process_count(tmp_path):
    data = tiny_demo()
    _eval_worker(0, 0, str(data), str(tmp_path / "cache"), str(tmp_path), 1)
    _spawn(_eval_worker, str(data), str(tmp_path / "cache"), str(tmp_path), 2)
    one, two = torch.load(tmp_path / "eval-1.pt"), torch.load(tmp_path / "eval-2.pt")
    for k in ("recon_video", "recon_audio", "recon"):
        assert abs(one[k] - two[k]) < 1e-6 * max(1.0, abs(one[k])), (k, one[k], two[k])


# ------------------------------------------------------------------------------------------ stage 1 end to end
def test_stage1_on_two_ranks_equals_one_process_with_accumulation_and_logs_the_same_loss(tmp_path):
    data = tiny_demo()
    base = tiny_stage1(data, cache_dir=str(tmp_path / "cache"), checkpoint_every=0)
    run_stage1(base.replace(accum_steps=2), tmp_path / "one")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port",
           str(_free_port()), "-m", "avfmae.train", "stage1", "--model", base.model, "--preset", "none", "--work",
           str(tmp_path / "two")] + [f"{k}={v}" for k, v in base.to_dict().items() if k not in ("stage", "model")]
    out = subprocess.run(cmd, env=_clean_env(PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1"), capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    a = torch.load(tmp_path / "one" / "checkpoint.pt", weights_only=True)
    b = torch.load(tmp_path / "two" / "checkpoint.pt", weights_only=True)
    for k, v in a["model"].items():
        if v.is_floating_point() and "running_" not in k:
            assert torch.allclose(v, b["model"][k], rtol=0, atol=1e-5), (k, (v - b["model"][k]).abs().max())
    la = list(csv.DictReader(open(tmp_path / "one" / "log.csv")))
    lb = list(csv.DictReader(open(tmp_path / "two" / "log.csv")))
    assert [r["step"] for r in la] == [r["step"] for r in lb]
    for ra, rb in zip(la, lb):
        for k in ("loss", "recon_video", "recon_audio"):
            assert abs(float(ra[k]) - float(rb[k])) < 1e-4, (k, ra, rb)
