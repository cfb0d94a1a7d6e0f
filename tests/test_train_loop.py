"""Running for real: resume equality (in process, after SIGKILL, after SIGTERM), 2-process gloo DDP equality,
non-finite detection, export to the zoo, and the three stages on a tiny synthetic set with avfmae-micro."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import zoo
from avfmae.train import run_stage1, run_stage2, run_stage3, stage_config
from avfmae.train.loop import NonFiniteLoss, TrainLoop
from avfmae.train.distributed import DistInfo
from train_fixtures import tiny_demo, tiny_stage1, tiny_stage3

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def data():
    return tiny_demo()


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("view-cache")


@pytest.fixture(autouse=True)
def zoo_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("AVF_ZOO_DIR", str(tmp_path / "zoo"))


@pytest.fixture(scope="module")
def reference(data, cache_dir, tmp_path_factory):
    """An uninterrupted tiny stage-3 run (2 epochs x 6 steps, mixup, drop path, checkpoints every 2 steps)."""
    work = tmp_path_factory.mktemp("ref")
    result = run_stage3(tiny_stage3(data, cache_dir=str(cache_dir)), work)
    return work, result


def _weights(work: Path) -> dict:
    return torch.load(work / "checkpoint.pt", map_location="cpu", weights_only=True)["model"]


def _assert_same(a: dict, b: dict, exact: bool = True, atol: float = 0.0):
    assert a.keys() == b.keys()
    for k in a:
        if exact:
            assert torch.equal(a[k], b[k]), k
        elif a[k].is_floating_point():
            assert torch.allclose(a[k], b[k], rtol=0, atol=atol), (k, (a[k] - b[k]).abs().max())


def _cli(cfg, work: Path) -> list[str]:
    args = [sys.executable, "-m", "avfmae.train", cfg.stage, "--model", cfg.model, "--preset", "none", "--work",
            str(work)]
    return args + [f"{k}={v}" for k, v in cfg.to_dict().items() if k not in ("stage", "model")]


def _env(**extra) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    env.update(extra)
    return env


def test_reference_run_result_format(reference):
    work, r = reference
    assert r["steps"] == r["total_steps"] == 12 and r["steps_per_epoch"] == 6
    assert [e["epoch"] for e in r["epochs"]] == [1, 2] and all("uar" in e["val"] for e in r["epochs"])
    assert r["selection"] == "test" and r["metric"] == "war" and r["selected_epoch"] in (1, 2)
    for which in ("selected", "last"):
        p = r["predictions"][which]
        assert len(p["clips"]) == len(p["targets"]) == len(p["probs"]) == 6
        assert all(abs(sum(row) - 1) < 1e-5 for row in p["probs"])
        assert set(r["test"][which]) == {"uar", "war"}
    assert r["views"] == 4                                           # 2 segments x 2 crops
    assert (work / "log.csv").read_text().startswith("step,epoch,lr")
    assert (work / "result.json").is_file()


def test_resume_in_process_equals_uninterrupted(data, cache_dir, reference, tmp_path):
    cfg = tiny_stage3(data, cache_dir=str(cache_dir))
    run_stage3(cfg.replace(max_steps=5), tmp_path)          # stops mid-epoch 1 with a checkpoint at step 5
    assert torch.load(tmp_path / "checkpoint.pt", weights_only=True)["step"] == 5
    r = run_stage3(cfg, tmp_path)                            # resumes at step 5
    _assert_same(_weights(tmp_path), _weights(reference[0]))
    assert r["predictions"] == reference[1]["predictions"]
    assert [e["val"] for e in r["epochs"]] == [e["val"] for e in reference[1]["epochs"]]


def test_sigkill_then_resume_equals_uninterrupted(data, cache_dir, reference, tmp_path):
    cfg = tiny_stage3(data, cache_dir=str(cache_dir))
    killed = subprocess.run(_cli(cfg, tmp_path), env=_env(AVF_TRAIN_KILL_AT_STEP="7"), capture_output=True, text=True)
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert torch.load(tmp_path / "checkpoint.pt", weights_only=True)["step"] == 6     # the last checkpoint
    done = subprocess.run(_cli(cfg, tmp_path), env=_env(), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    _assert_same(_weights(tmp_path), _weights(reference[0]))


def test_sigterm_writes_a_checkpoint_first_and_resumes_equal(data, cache_dir, reference, tmp_path):
    cfg = tiny_stage3(data, cache_dir=str(cache_dir), checkpoint_every=0)    # only epoch ends + the signal
    term = subprocess.run(_cli(cfg, tmp_path), env=_env(AVF_TRAIN_SIGNAL_AT_STEP="3:SIGTERM"), capture_output=True,
                          text=True)
    assert term.returncode == 128 + 15, term.stderr[-2000:]
    assert torch.load(tmp_path / "checkpoint.pt", weights_only=True)["step"] == 4     # written on the signal
    done = subprocess.run(_cli(cfg, tmp_path), env=_env(), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    _assert_same(_weights(tmp_path), _weights(reference[0]))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_process_gloo_ddp_equals_one_process_with_the_same_global_batch(data, cache_dir, tmp_path):
    # global batch 4 = 2 processes x 2, or 1 process x 2 micro-batches x 2 (the ER BatchNorm normalises per
    # process batch, as the official per-GPU BatchNorm, so the single-process twin splits the batch the same way)
    base = tiny_stage3(data, cache_dir=str(cache_dir), epochs=1, selection="last")
    one = tmp_path / "one"
    run_stage3(base.replace(accum_steps=2), one)
    two = tmp_path / "two"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port",
           str(_free_port()), "-m", "avfmae.train"] + _cli(base, two)[3:]
    out = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    a, b = _weights(one), _weights(two)
    params = {n for n, _ in zoo.create_model("avfmae-micro", num_classes=6).named_parameters()}
    _assert_same({k: a[k] for k in params}, {k: b[k] for k in params}, exact=False, atol=1e-5)


def test_slurm_environment_is_translated(monkeypatch):
    from avfmae.train.distributed import _export_slurm_env
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "SUBMITIT_")) and k not in
           ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")}
    env.update(SLURM_PROCID="3", SLURM_NTASKS="4", SLURM_LOCALID="1", SLURM_JOB_ID="77")
    monkeypatch.setattr(os, "environ", env)         # a plain dict: whatever the call sets is dropped afterwards
    assert _export_slurm_env() == "slurm"
    assert (os.environ["RANK"], os.environ["WORLD_SIZE"], os.environ["LOCAL_RANK"]) == ("3", "4", "1")
    assert os.environ["MASTER_ADDR"] == "127.0.0.1" and os.environ["MASTER_PORT"] == str(20077)


def test_non_finite_loss_stops_with_the_step_and_the_batch(data, tmp_path):
    cfg = tiny_stage3(data, log_every=1)
    model = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    from avfmae.train.schedule import CosineSchedule

    def batches(start, stop):
        for s in range(start, stop):
            yield s, [{"x": torch.ones(2, 2) * s, "clip": [f"c{s}a", f"c{s}b"]}]

    def step_fn(m, batch, seed):
        out = m(batch["x"]).mean()
        return (out * float("nan") if batch["clip"][0] == "c2a" else out), {}

    loop = TrainLoop(cfg, model, DistInfo(), tmp_path, opt, CosineSchedule(0.1, 0.0, 10), 10, 5, batches, step_fn)
    with pytest.raises(NonFiniteLoss, match=r"step 2 .*\['c2a', 'c2b'\]") as err:
        loop.run()
    assert err.value.step == 2 and Path(err.value.path).is_file()
    assert torch.load(err.value.path, weights_only=True)["clip"] == ["c2a", "c2b"]


def test_three_stages_export_zoo_tags_that_load_by_name(data, cache_dir, tmp_path):
    s1 = run_stage1(tiny_stage1(data, cache_dir=str(cache_dir), export_tag="t-s1",
                                eval_data=(f"{data}/splits/fold1/test.tsv",)), tmp_path / "s1")
    assert s1["export"]["name"] == "avfmae-micro.t-s1" and s1["eval_before"]["recon"] > 0
    pt = zoo.create_model("avfmae-micro.t-s1", pretrain=True)
    _assert_same(pt.state_dict(), _weights(tmp_path / "s1"))
    train = f"{data}/splits/fold1/train.tsv"
    s2cfg = stage_config("stage2", "cpu", model="avfmae-micro", init="t-s1", export_tag="t-s2", epochs=1,
                         data=(f"{train}|name=valence|map=0,0,1,1,2,2", f"{train}|name=arousal|map=0,1,0,1,0,1"),
                         batch_size=2, warmup_steps=1, cache_dir=str(cache_dir), progress=False, tensorboard=False)
    s2 = run_stage2(s2cfg, tmp_path / "s2")
    assert [s["classes"] for s in s2["sources"]] == [3, 2] and s2["export"]["name"] == "avfmae-micro.t-s2"
    rec = {r.tag: r for r in zoo.tags_for("avfmae-micro")}
    assert rec["t-s2"].kind == "finetune" and rec["t-s2"].num_classes == 0
    assert rec["t-s2"].provenance["stage"] == "stage2" and rec["t-s2"].provenance["parent"] == "t-s1"
    s3 = run_stage3(tiny_stage3(data, cache_dir=str(cache_dir), init="avfmae-micro.t-s2", epochs=1,
                                selection="val", export_tag="t-s3", modalities=("video",)), tmp_path / "s3")
    assert s3["val_clips"] > 0 and s3["export"]["name"] == "avfmae-micro.t-s3"
    ft = zoo.create_model("avfmae-micro.t-s3").eval()
    assert ft.cfg.num_classes == 6
    shared = stage_config("stage2", "cpu", model="avfmae-micro", epochs=1, label_mode="shared", shared_classes=3,
                          data=(f"{train}|name=v|map=0,0,1,1,2,2",), batch_size=2, warmup_steps=1, max_steps=2,
                          cache_dir=str(cache_dir), progress=False, tensorboard=False)
    assert run_stage2(shared, tmp_path / "s2-shared")["steps"] == 2
