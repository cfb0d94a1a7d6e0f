"""Data-parallel training on the real SLURM cluster (gloo, avfmae-micro, 2 tasks on one node): a 2-task stage 1
under srun equal to 1 process with accumulation, a kill of one rank that fails the job within seconds and a re-run
that resumes, and a 2-task `benchmarks.run --set stages=1+3` pipeline run through submitit that finishes."""
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from benchmark_fixtures import TINY_RUN, tiny_demo, use_env
from test_slurm import slurm_cluster  # noqa: F401  (fixture: fails under CI without a cluster, else skips)
from train_fixtures import tiny_stage1

pytestmark = pytest.mark.slurm
ROOT = Path(__file__).resolve().parents[1]


def _sbatch_wait(script: Path, out: Path, timeout: float = 600) -> tuple[int, float]:
    """Submit, wait for the end; (exit code, seconds from start to end) from sacct/scontrol."""
    jid = subprocess.run(["sbatch", "--parsable", "-o", str(out), str(script)], capture_output=True, text=True,
                         check=True).stdout.strip().split(";")[0]
    end = time.time() + timeout
    while time.time() < end:
        q = subprocess.run(["squeue", "-h", "-j", jid], capture_output=True, text=True)
        if q.returncode == 0 and not q.stdout.strip():
            break
        time.sleep(1)
    else:
        subprocess.run(["scancel", jid])
        raise AssertionError(f"job {jid} not done in {timeout} s: {out.read_text()[-2000:] if out.exists() else ''}")
    time.sleep(1)
    acct = subprocess.run(["sacct", "-n", "-X", "-P", "-j", jid, "-o", "ExitCode,ElapsedRaw"], capture_output=True,
                          text=True).stdout.split()
    code, elapsed = acct[0].split("|") if acct else ("0:0", "0")
    return int(code.split(":")[0]), float(elapsed or 0)


def _script(tmp: Path, cfg, work: Path, env: str = "") -> Path:
    args = " ".join(shlex.quote(f"{k}={v}") for k, v in cfg.to_dict().items() if k not in ("stage", "model"))
    text = (f"#!/bin/bash\n#SBATCH -n 2\n#SBATCH -c 1\ncd {ROOT}\nexport PYTHONPATH={ROOT} OMP_NUM_THREADS=1 "
            f"AVF_ZOO_DIR={tmp / 'zoo'} {env}\n"
            f"srun --kill-on-bad-exit=1 {sys.executable} -m avfmae.train stage1 --model {cfg.model} --preset none "
            f"--work {work} {args}\n")
    path = tmp / f"job-{work.name}.sh"
    path.write_text(text)
    return path


def _params(work: Path) -> dict:
    return {k: v for k, v in torch.load(work / "checkpoint.pt", weights_only=True)["model"].items()
            if v.is_floating_point() and "running_" not in k}


def _assert_close(a: dict, b: dict):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.allclose(a[k], b[k], rtol=0, atol=1e-5), (k, (a[k] - b[k]).abs().max())


def test_two_task_stage1_equals_one_process_and_a_killed_rank_fails_fast_then_resumes(slurm_cluster, tmp_path,
                                                                                       monkeypatch):  # noqa: F811
    monkeypatch.setenv("AVF_ZOO_DIR", str(tmp_path / "zoo"))
    data = tiny_demo(tmp_path / "data")
    cfg = tiny_stage1(data, epochs=2, checkpoint_every=2, cache_dir=str(tmp_path / "cache"))
    from avfmae.train import run_stage1
    run_stage1(cfg.replace(accum_steps=2), tmp_path / "one")            # the single-process twin
    work = tmp_path / "two"
    code, elapsed = _sbatch_wait(_script(tmp_path, cfg, work, "AVF_TRAIN_KILL_AT_STEP=3 AVF_TRAIN_KILL_RANK=1"),
                                 tmp_path / "killed.out")
    log = (tmp_path / "killed.out").read_text()
    assert code != 0, log[-2000:]
    assert torch.load(work / "checkpoint.pt", weights_only=True)["step"] == 2, log[-2000:]
    assert "waiting for 2 ranks" in log
    # the surviving rank must not wait for the collective timeout (1800 s): the job ends soon after the kill
    assert elapsed < 120, (elapsed, log[-2000:])
    code, _ = _sbatch_wait(_script(tmp_path, cfg, work), tmp_path / "resumed.out")
    log = (tmp_path / "resumed.out").read_text()
    assert code == 0, log[-3000:]
    assert "resumed stage1" in log and "at step 2" in log
    _assert_close(_params(tmp_path / "one"), _params(work))


def test_two_task_pipeline_run_through_submitit_finishes(slurm_cluster, tmp_path, monkeypatch):  # noqa: F811
    use_env(monkeypatch, tmp_path)
    tiny_demo(tmp_path / "data")
    profile = tmp_path / "cluster.toml"
    profile.write_text("cpus_per_task = 1\ntasks_per_node = 2\ntimeout_min = 30\n[stages.stage1]\ntimeout_min = 20\n")
    monkeypatch.setenv("AVF_CLUSTER_PROFILE", str(profile))
    from benchmarks import run

    args = ["--model", "avfmae-micro", "--suite", "demo", "--folds", "fold3", "--executor", "slurm",
            "--set", "stages=1+3"] + TINY_RUN
    assert run.main(args) == 0
    # stage 1 ran as its own job with its stage's resources; the stage-3 job waited for it (afterok)
    scripts = {p: p.read_text() for p in (tmp_path / "runs" / "submitit").rglob("*_submission.sh")}
    s1_jobs = [t for t in scripts.values() if "-stage1" in t]
    assert len(s1_jobs) == 1 and "--time=20" in s1_jobs[0], list(scripts)
    assert any("--dependency=afterok:" in t and "-stage1" not in t for t in scripts.values()), list(scripts)
    logs = "".join(p.read_text(errors="replace") for p in (tmp_path / "runs" / "submitit").rglob("*.err"))
    assert logs.count("waiting for 2 ranks") >= 2, logs[-3000:]     # both ranks joined one group
    pipe = tmp_path / "runs" / "pipeline"
    folders = [p for p in pipe.iterdir() if (p / "done").is_file()]
    assert len(folders) == 1, list(pipe.iterdir())
    # stage 1 of the pipeline on 2 ranks equals 1 process with 2 micro-batches
    s1 = folders[0]
    conf = json.loads((s1 / "config.json").read_text())
    conf.pop("stage")
    from avfmae.train.config import Stage1Config
    from avfmae.train import run_stage1
    cfg = Stage1Config.from_dict(conf).replace(accum_steps=2 * conf.get("accum_steps", 1), export_tag=None,
                                               resume="never")
    run_stage1(cfg, tmp_path / "one")
    _assert_close(_params(tmp_path / "one"), _params(s1))
    results = list((tmp_path / "runs" / "results").rglob("*.json"))
    assert results, "no result stored"


def test_sbatch_two_tasks_without_srun_fails_at_once_with_the_fix(slurm_cluster, tmp_path):  # noqa: F811
    data = tiny_demo(tmp_path / "data")
    cfg = tiny_stage1(data, cache_dir=str(tmp_path / "cache"))
    script = _script(tmp_path, cfg, tmp_path / "w")
    script.write_text(script.read_text().replace("srun --kill-on-bad-exit=1 ", ""))     # the batch shell itself
    code, elapsed = _sbatch_wait(script, tmp_path / "nosrun.out", timeout=300)
    log = (tmp_path / "nosrun.out").read_text()
    assert code != 0 and "NotInJobStep" in log and "srun python -m avfmae.train" in log, log[-2000:]
    assert elapsed < 120, elapsed
