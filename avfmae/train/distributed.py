"""Process-group setup for data-parallel training, from whichever launcher started the process.

    torchrun / torch.distributed.run    RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT are set: used as is
    submitit (SLURM or local tasks)     submitit's TorchDistributedEnvironment exports those variables from the job
                                        environment (one task per GPU: `tasks_per_node = gpus_per_node`); the
                                        local executor's SUBMITIT_LOCAL_* tasks form a group on this machine
    plain srun                          SLURM_PROCID / SLURM_NTASKS / SLURM_LOCALID, master = first node
    anything else                       a single process, no process group

A batch script of `sbatch -n 2` that runs python without `srun` is one process that sees SLURM_NTASKS=2 and
SLURM_PROCID=0 but is in no job step with 2 tasks (no SLURM_STEP_ID, or SLURM_STEP_NUM_TASKS=1): it is refused
with a clear error (`NotInJobStep`) instead of waiting for a rank that never starts. Every rendezvous logs
"waiting for N ranks (timeout T s)"; the timeout of the rendezvous and of every collective is the config field
`dist_timeout_s` (default 1800).

`launch_rank()` reads this process's rank from the launcher's variables WITHOUT forming a group, for the code
that must decide before the group exists who takes a lock or writes a result (rank 0 only).

Backend: NCCL when the process drives a GPU, gloo on CPU. CPU threads: SLURM's `task/none` plugin does no CPU
binding, so every task would see all cores; the thread count is set from `threads` (config), else from
SLURM_CPUS_PER_TASK when present (see notes/environment.md section 3).
"""
from __future__ import annotations

import datetime
import logging
import os
import subprocess
from dataclasses import dataclass

import torch
import torch.distributed as dist

log = logging.getLogger("avfmae.train")
DEFAULT_TIMEOUT_S = 1800


class NotInJobStep(RuntimeError):
    """SLURM says several tasks, but this process is the batch shell, not one task of an `srun` step."""


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


def _slurm_batch_shell_problem(env=None) -> str | None:
    """Why this process must not wait for SLURM_NTASKS ranks (it is the batch script itself), or None."""
    env = os.environ if env is None else env
    ntasks = int(env.get("SLURM_NTASKS", "1") or 1)
    if ntasks <= 1 or "SLURM_PROCID" not in env:
        return None
    step = env.get("SLURM_STEP_ID")
    step_tasks = env.get("SLURM_STEP_NUM_TASKS")
    if step is None or step in ("batch", "4294967294") or (step_tasks is not None and int(step_tasks) != ntasks):
        return (f"SLURM_NTASKS={ntasks} but this process is not one of {ntasks} tasks of a job step "
                f"(SLURM_STEP_ID={step}, SLURM_STEP_NUM_TASKS={step_tasks}): it is the batch script itself, and the "
                f"other {ntasks - 1} rank(s) would never start. Launch the training with `srun python -m avfmae.train "
                f"...` inside the batch script (or through benchmarks.run --executor slurm), or ask for one task "
                f"(#SBATCH -n 1)")
    return None


def _submitit_ntasks(env=None) -> int:
    env = os.environ if env is None else env
    if not env.get("SUBMITIT_EXECUTOR"):
        return 0
    if env.get("SUBMITIT_EXECUTOR") == "local":
        return int(env.get("SUBMITIT_LOCAL_NTASKS", "1") or 1)
    return int(env.get("SLURM_NTASKS", "1") or 1)


def launch_rank(env=None) -> int:
    """This process's global rank as its launcher set it (0 for a single process); forms no process group."""
    env = os.environ if env is None else env
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank()
    if "RANK" in env and "WORLD_SIZE" in env:
        return int(env["RANK"])
    if env.get("SUBMITIT_EXECUTOR") == "local" and _submitit_ntasks(env) > 1:
        return int(env.get("SUBMITIT_LOCAL_GLOBALID", "0"))
    if int(env.get("SLURM_NTASKS", "1") or 1) > 1 and "SLURM_PROCID" in env:
        return int(env["SLURM_PROCID"])
    return 0


def launch_world_size(env=None) -> int:
    """The number of ranks the launcher started (1 for a single process); forms no process group."""
    env = os.environ if env is None else env
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    if "RANK" in env and "WORLD_SIZE" in env:
        return int(env["WORLD_SIZE"])
    if env.get("SUBMITIT_EXECUTOR") == "local":
        return max(1, _submitit_ntasks(env))
    if "SLURM_PROCID" in env:
        return max(1, int(env.get("SLURM_NTASKS", "1") or 1))
    return 1


def pick_device(pref: str = "auto", local_rank: int = 0) -> torch.device:
    if pref == "cpu":
        return torch.device("cpu")
    if pref.startswith("cuda"):
        if not torch.cuda.is_available():
            raise RuntimeError(f"device={pref!r} but CUDA is not available")
        return torch.device(pref if ":" in pref else f"cuda:{local_rank}")
    return torch.device(f"cuda:{local_rank}") if torch.cuda.is_available() else torch.device("cpu")


def init_distributed(device: str = "auto", threads: int = 0, timeout_s: int = DEFAULT_TIMEOUT_S) -> DistInfo:
    """Detect the launcher, set the thread count, pick the device, and join the process group if there is one."""
    env = os.environ
    launcher = "single"
    if dist.is_available() and dist.is_initialized():
        launcher = "existing"
    elif "RANK" in env and "WORLD_SIZE" in env:
        launcher = "torchrun"
    elif env.get("SUBMITIT_EXECUTOR") == "local" and _submitit_ntasks(env) > 1:
        from submitit.helpers import TorchDistributedEnvironment

        TorchDistributedEnvironment().export(set_cuda_visible_devices=False, overwrite=True)
        launcher = "submitit-local"
    elif int(env.get("SLURM_NTASKS", "1")) > 1 and "SLURM_PROCID" in env:
        problem = _slurm_batch_shell_problem(env)
        if problem:
            raise NotInJobStep(problem)
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
    log.info("rank %d (%s): waiting for %d ranks at %s:%s (timeout %d s, dist_timeout_s)", rank, launcher, world,
             env.get("MASTER_ADDR"), env.get("MASTER_PORT"), timeout_s)
    dist.init_process_group(backend, init_method="env://", rank=rank, world_size=world,
                            timeout=datetime.timedelta(seconds=timeout_s))
    return DistInfo(rank, world, local, dev, backend, launcher, True)


def cleanup(info: DistInfo) -> None:
    if info.owns_group and dist.is_initialized():
        dist.destroy_process_group()


def barrier(info: DistInfo, what: str = "") -> None:
    if info.distributed:
        if what:
            log.info("rank %d: waiting for %d ranks (%s)", info.rank, info.world_size, what)
        dist.barrier()


def all_reduce_sum(info: DistInfo, t: torch.Tensor) -> torch.Tensor:
    if info.distributed:
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def mean_across_ranks(info: DistInfo, values: dict[str, float]) -> dict[str, float]:
    """The mean over ranks of per-rank values (every rank must pass the same keys); the global truth to log."""
    if not info.distributed or not values:
        return dict(values)
    keys = sorted(values)
    t = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return {k: float(t[i]) / info.world_size for i, k in enumerate(keys)}


def broadcast_buffers(info: DistInfo, model: torch.nn.Module) -> None:
    """Give every rank rank 0's buffers (BatchNorm running statistics). DDP does the same at every forward
    (broadcast_buffers=True), so this changes nothing for training; it makes evaluation and checkpoints agree."""
    if not info.distributed:
        return
    for b in model.buffers():
        if info.device.type != "cuda" and b.device.type == "cuda":  # pragma: no cover - mixed placement
            continue
        dist.broadcast(b.data, src=0)


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


__all__ = ["DistInfo", "NotInJobStep", "DEFAULT_TIMEOUT_S", "launch_rank", "launch_world_size", "init_distributed", "cleanup", "barrier", "all_reduce_sum", "mean_across_ranks", "broadcast_buffers", "gather_objects",
           "broadcast_object", "pick_device"]
