"""Process-group setup for data-parallel training, from whichever launcher started the process.

    torchrun / torch.distributed.run    RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT are set: used as is
    submitit (SLURM tasks)              submitit's TorchDistributedEnvironment exports those variables from the job
                                        environment (one task per GPU: `tasks_per_node = gpus_per_node`)
    plain srun                          SLURM_PROCID / SLURM_NTASKS / SLURM_LOCALID, master = first node
    anything else                       a single process, no process group

Backend: NCCL when the process drives a GPU, gloo on CPU. CPU threads: SLURM's `task/none` plugin does no CPU
binding, so every task would see all cores; the thread count is set from `threads` (config), else from
SLURM_CPUS_PER_TASK when present (see notes/environment.md section 3).
"""
from __future__ import annotations

import datetime
import os
import subprocess
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    backend: str | None = None
    launcher: str = "single"
    owns_group: bool = False         # we created the process group (and tear it down)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def _slurm_master() -> str:
    nodes = os.environ.get("SLURM_JOB_NODELIST") or os.environ.get("SLURM_NODELIST") or ""
    if nodes:
        try:
            out = subprocess.run(["scontrol", "show", "hostnames", nodes], capture_output=True, text=True, timeout=10)
            if out.returncode == 0 and out.stdout.split():
                return out.stdout.split()[0]
        except (OSError, subprocess.TimeoutExpired):
            pass
    return "127.0.0.1"


def _export_slurm_env() -> str:
    """Fill the env:// variables from a SLURM (submitit or srun) task; returns the launcher name."""
    if os.environ.get("SUBMITIT_EXECUTOR") or os.environ.get("SUBMITIT_FOLDER"):
        try:
            from submitit.helpers import TorchDistributedEnvironment

            TorchDistributedEnvironment().export(set_cuda_visible_devices=False, overwrite=True)
            return "submitit"
        except Exception:  # not inside a submitit job after all: fall through to the SLURM variables
            pass
    os.environ.setdefault("RANK", os.environ["SLURM_PROCID"])
    os.environ.setdefault("WORLD_SIZE", os.environ["SLURM_NTASKS"])
    os.environ.setdefault("LOCAL_RANK", os.environ.get("SLURM_LOCALID", "0"))
    os.environ.setdefault("MASTER_ADDR", _slurm_master())
    os.environ.setdefault("MASTER_PORT", str(20000 + int(os.environ.get("SLURM_JOB_ID", "0")) % 40000))
    return "slurm"


def pick_device(pref: str = "auto", local_rank: int = 0) -> torch.device:
    if pref == "cpu":
        return torch.device("cpu")
    if pref.startswith("cuda"):
        if not torch.cuda.is_available():
            raise RuntimeError(f"device={pref!r} but CUDA is not available")
        return torch.device(pref if ":" in pref else f"cuda:{local_rank}")
    return torch.device(f"cuda:{local_rank}") if torch.cuda.is_available() else torch.device("cpu")


def init_distributed(device: str = "auto", threads: int = 0, timeout_s: int = 1800) -> DistInfo:
    """Detect the launcher, set the thread count, pick the device, and join the process group if there is one."""
    env = os.environ
    launcher = "single"
    if dist.is_available() and dist.is_initialized():
        launcher = "existing"
    elif "RANK" in env and "WORLD_SIZE" in env:
        launcher = "torchrun"
    elif int(env.get("SLURM_NTASKS", "1")) > 1 and "SLURM_PROCID" in env:
        launcher = _export_slurm_env()
    n_threads = threads or int(env.get("SLURM_CPUS_PER_TASK", "0") or 0)
    if n_threads > 0:
        torch.set_num_threads(n_threads)
    if launcher == "single":
        return DistInfo(device=pick_device(device))
    if launcher == "existing":
        rank, world = dist.get_rank(), dist.get_world_size()
        local = int(env.get("LOCAL_RANK", "0"))
        return DistInfo(rank, world, local, pick_device(device, local), dist.get_backend(), launcher, False)
    rank, world, local = int(env["RANK"]), int(env["WORLD_SIZE"]), int(env.get("LOCAL_RANK", "0"))
    dev = pick_device(device, local)
    if world == 1:
        return DistInfo(rank, world, local, dev, None, launcher, False)
    backend = "nccl" if dev.type == "cuda" else "gloo"
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    dist.init_process_group(backend, init_method="env://", rank=rank, world_size=world,
                            timeout=datetime.timedelta(seconds=timeout_s))
    return DistInfo(rank, world, local, dev, backend, launcher, True)


def cleanup(info: DistInfo) -> None:
    if info.owns_group and dist.is_initialized():
        dist.destroy_process_group()


def barrier(info: DistInfo) -> None:
    if info.distributed:
        dist.barrier()


def all_reduce_sum(info: DistInfo, t: torch.Tensor) -> torch.Tensor:
    if info.distributed:
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def gather_objects(info: DistInfo, obj) -> list:
    if not info.distributed:
        return [obj]
    out = [None] * info.world_size
    dist.all_gather_object(out, obj)
    return out


def broadcast_object(info: DistInfo, obj):
    if not info.distributed:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


__all__ = ["DistInfo", "init_distributed", "cleanup", "barrier", "all_reduce_sum", "gather_objects",
           "broadcast_object", "pick_device"]
