"""The generic training loop every stage runs: AMP, accumulation, clipping, DDP, non-finite detection, signals,
checkpoints, progress and logs.

    loop = TrainLoop(cfg, model, info, work_dir, optimizer, schedule, total_steps, steps_per_epoch,
                     batches=lambda start, stop: iterate_steps(...), step_fn=my_step, epoch_end=my_validation)
    loop.run()        # resumes from <work_dir>/checkpoint.pt when there is one (cfg.resume)

`step_fn(model, batch, generator_seed) -> (loss, {name: float})` computes one micro-batch's loss. Before it runs,
torch's global RNG (drop path, dropout) is seeded from (seed, step, shard) so the randomness of a micro-batch does
not depend on the history of the process: a resumed run and a run split over processes draw the same numbers.

Signals: SIGTERM, SIGUSR1 and SIGUSR2 (what SLURM sends before a timeout or a preemption) set a flag; at the next
step boundary every rank agrees to stop, rank 0 writes a checkpoint, then the previous handler runs (e.g.
submitit's requeue) or the process exits with 128 + signal. A SIGKILL loses at most the steps since the last
checkpoint (`checkpoint_every`, epoch ends, the end).

Non-finite loss: the step, the shard and the clip ids are named in the NonFiniteLoss error, and the offending batch
is saved to <work_dir>/nonfinite-step<S>-rank<R>.pt.

Test hooks (environment): AVF_TRAIN_KILL_AT_STEP=k sends SIGKILL to this process once k steps are done (only in
rank AVF_TRAIN_KILL_RANK when that is set);
AVF_TRAIN_SIGNAL_AT_STEP=k:NAME sends it the signal NAME (e.g. SIGTERM) once k steps are done.
"""
from __future__ import annotations

import contextlib
import csv
import logging
import math
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Iterator

import torch

from ..atomic import atomic_write

from . import checkpoint as ckpt
from .allocator import release_free_memory
from .sampling import shard_seed
from .distributed import DistInfo, all_reduce_sum, barrier, broadcast_buffers, mean_across_ranks

log = logging.getLogger("avfmae.train")

HANDLED_SIGNALS = tuple(s for s in (getattr(signal, n, None) for n in ("SIGTERM", "SIGUSR1", "SIGUSR2"))
                        if s is not None)
# config fields that may change between a run and its resumption
RESUMABLE_CHANGES = ("progress", "num_workers", "log_every", "max_steps", "checkpoint_every", "device", "threads",
                     "cache_dir", "resume", "export_tag", "tensorboard", "on_error", "dist_timeout_s")


class NonFiniteLoss(RuntimeError):
    def __init__(self, message: str, step: int, shard: int, clips: list, path: str | None):
        super().__init__(message)
        self.step, self.shard, self.clips, self.path = step, shard, clips, path


class Preempted(SystemExit):
    """Raised after the checkpoint a termination signal asked for; exit code 128 + signal number."""

    def __init__(self, signum: int, step: int):
        super().__init__(128 + int(signum))
        self.signum, self.step = int(signum), int(step)


def amp_settings(amp: str, device: torch.device) -> tuple[torch.dtype | None, bool]:
    """(autocast dtype or None, use a GradScaler)."""
    if amp == "auto":
        amp = "bf16" if device.type == "cuda" else "off"
    if amp == "off":
        return None, False
    if amp == "bf16":
        return torch.bfloat16, False
    return torch.float16, device.type == "cuda"


class CsvLog:
    """Append-only CSV of step rows; on resume, rows past the resumed step (written by the killed run) are dropped."""

    def __init__(self, path: Path, resume_step: int | None):
        self.path = path
        self.fields: list[str] | None = None
        if resume_step is not None and path.is_file():
            with open(path, newline="") as f:
                rows = list(csv.DictReader(f))
            if rows:
                self.fields = list(rows[0].keys())
                kept = [r for r in rows if int(float(r.get("step", 0))) <= resume_step]
                self._rewrite(kept)
        elif path.is_file():
            path.unlink()

    def _rewrite(self, rows):
        def write(f):
            w = csv.DictWriter(f, fieldnames=self.fields)
            w.writeheader()
            w.writerows(rows)
        atomic_write(self.path, write, binary=False)

    def write(self, row: dict) -> None:
        if self.fields is None:
            self.fields = list(row.keys())
            with open(self.path, "w", newline="") as f:
                csv.DictWriter(f, fieldnames=self.fields).writeheader()
        with open(self.path, "a", newline="") as f:
            csv.DictWriter(f, fieldnames=self.fields, extrasaction="ignore").writerow(row)


def _tensorboard(work_dir: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except Exception:  # tensorboard is optional
        return None
    return SummaryWriter(str(work_dir / "tb"))


class TrainLoop:
    def __init__(self, cfg, model: torch.nn.Module, info: DistInfo, work_dir: str | os.PathLike, optimizer,
                 schedule, total_steps: int, steps_per_epoch: int,
                 batches: Callable[[int, int], Iterator[tuple[int, list[dict]]]],
                 step_fn: Callable, epoch_end: Callable | None = None, extra: dict | None = None,
                 find_unused_parameters: bool = False):
        self.cfg, self.model, self.info = cfg, model, info
        self.work_dir = Path(work_dir)
        self.optimizer, self.schedule = optimizer, schedule
        self.total_steps, self.spe = int(total_steps), int(steps_per_epoch)
        self.stop_step = min(self.total_steps, cfg.max_steps) if cfg.max_steps > 0 else self.total_steps
        self.batches, self.step_fn, self.epoch_end = batches, step_fn, epoch_end
        self.extra = extra if extra is not None else {}
        self.dtype, use_scaler = amp_settings(cfg.amp, info.device)
        self.scaler = torch.amp.GradScaler("cuda", enabled=use_scaler)
        self.ddp = model
        if info.distributed:
            self.ddp = torch.nn.parallel.DistributedDataParallel(
                model, device_ids=[info.device.index] if info.device.type == "cuda" else None,
                find_unused_parameters=find_unused_parameters)
        self.step = 0
        self._saved_step: int | None = None
        self.elapsed = 0.0
        self._signal: int | None = None
        self._prev_handlers: dict = {}
        self.checkpoint_path = self.work_dir / ckpt.CHECKPOINT

    # ------------------------------------------------------------------------------------------------ resume
    def maybe_resume(self) -> bool:
        """Load <work_dir>/checkpoint.pt if there is one (per cfg.resume); idempotent."""
        if getattr(self, "_resumed", None) is not None:
            return self._resumed
        self._resumed = self._load_checkpoint()
        return self._resumed

    def _load_checkpoint(self) -> bool:
        path = self.checkpoint_path
        if self.cfg.resume == "never" or not path.is_file():
            if self.cfg.resume == "require":
                raise FileNotFoundError(f"resume=require but {path} does not exist")
            return False
        obj = ckpt.load_checkpoint(path)
        if obj.get("stage") != self.cfg.stage:
            raise RuntimeError(f"{path} is a {obj.get('stage')} checkpoint, this is {self.cfg.stage}; "
                               "use another work dir or resume=never")
        diffs = ckpt.config_differences(obj["config"], self.cfg.to_dict(), RESUMABLE_CHANGES)
        if diffs:
            raise RuntimeError(f"{path} was written with another config ({'; '.join(diffs)}). Resume with the same "
                               "config, or start over with resume=never (or another work dir)")
        self.step = ckpt.restore(obj, model=self.model, optimizer=self.optimizer, scaler=self.scaler)
        self.extra.update(obj.get("extra", {}))
        self.elapsed = float(obj.get("time", 0.0))
        log.info("resumed %s from %s at step %d", self.cfg.stage, path, self.step)
        return True

    def save(self, only_if_new: bool = False) -> None:
        """Checkpoint (rank 0 writes; every rank first takes rank 0's buffers, see broadcast_buffers).
        only_if_new: skip when this step is already checkpointed (the end of a run, a signal after a save)."""
        if only_if_new and self._saved_step == self.step:
            return
        broadcast_buffers(self.info, self.model)
        self._saved_step = self.step
        if self.info.is_main:
            ckpt.save_checkpoint(self.checkpoint_path, model=self.model, optimizer=self.optimizer,
                                 schedule=self.schedule, scaler=self.scaler, step=self.step,
                                 config=self.cfg.to_dict(), stage=self.cfg.stage, extra=self.extra,
                                 elapsed=self.elapsed + time.perf_counter() - self._t0)
        barrier(self.info)

    # ----------------------------------------------------------------------------------------------- signals
    def _on_signal(self, signum, frame):  # noqa: ARG002
        self._signal = signum

    def _install_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for s in HANDLED_SIGNALS:
            try:
                self._prev_handlers[s] = signal.signal(s, self._on_signal)
            except (ValueError, OSError):
                pass

    def _restore_signals(self) -> None:
        for s, h in self._prev_handlers.items():
            with contextlib.suppress(ValueError, OSError, TypeError):
                signal.signal(s, h)
        self._prev_handlers = {}

    def _test_hooks(self) -> None:
        kill = os.environ.get("AVF_TRAIN_KILL_AT_STEP")
        only = os.environ.get("AVF_TRAIN_KILL_RANK")
        if kill and int(kill) == self.step and (only is None or int(only) == self.info.rank):
            os.kill(os.getpid(), signal.SIGKILL)
        sig = os.environ.get("AVF_TRAIN_SIGNAL_AT_STEP")
        if sig:
            at, _, name = sig.partition(":")
            if int(at) == self.step:
                os.kill(os.getpid(), getattr(signal, name or "SIGTERM"))

    # ----------------------------------------------------------------------------------------------- a step
    def _micro_step(self, batch: dict, shard: int, last: bool) -> tuple[float, dict, bool]:
        seed = shard_seed(self.cfg.seed, self.step, shard)
        torch.manual_seed(seed)
        sync = contextlib.nullcontext() if (last or not self.info.distributed) else self.ddp.no_sync()
        dev = self.info.device
        with sync:
            with torch.autocast(dev.type, dtype=self.dtype, enabled=self.dtype is not None):
                loss, logs = self.step_fn(self.ddp, batch, seed)
            value = float(loss.detach().float())
            finite = math.isfinite(value)
            if finite:
                self.scaler.scale(loss / self.cfg.accum_steps).backward()
            elif last and self.info.distributed:
                # keep DDP's collective pattern intact: contribute zero gradients, then stop below
                (loss.detach().nan_to_num(0.0) * 0.0 + sum(p.sum() * 0.0 for p in self.model.parameters()
                                                          if p.requires_grad)).backward()
        return value, logs, finite

    def _non_finite(self, value: float, shard: int, batch: dict) -> NonFiniteLoss:
        path = self.work_dir / f"nonfinite-step{self.step}-rank{self.info.rank}.pt"
        clips = list(batch.get("clip", []))
        try:
            ckpt.atomic_save({k: v for k, v in batch.items() if isinstance(v, torch.Tensor)} | {"clip": clips}, path)
        except Exception:  # the error message matters more than the dump
            path = None
        epoch = self.step // self.spe
        return NonFiniteLoss(f"non-finite loss ({value}) at step {self.step} (epoch {epoch}), rank {self.info.rank} "
                             f"shard {shard}, clips {clips}; the batch is saved in {path}. Lower the lr, enable "
                             f"clip_grad, or check these clips' inputs", self.step, shard, clips,
                             str(path) if path else None)

    def _optimizer_step(self) -> float | None:
        grad_norm = None
        if self.cfg.clip_grad:
            self.scaler.unscale_(self.optimizer)
            grad_norm = float(torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.clip_grad))
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        if self.cfg.release_memory:
            release_free_memory()
        return grad_norm

    # ------------------------------------------------------------------------------------------------- run
    def run(self) -> dict:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        resumed = self.maybe_resume()
        self._t0 = time.perf_counter()
        csv_log = CsvLog(self.work_dir / "log.csv", self.step if resumed else None) if self.info.is_main else None
        tb = _tensorboard(self.work_dir) if (self.info.is_main and self.cfg.tensorboard) else None
        bar = None
        if self.info.is_main and self.cfg.progress:
            from avfmae import progress as P   # a bar on a terminal, one line per epoch in a log file
            bar = P.bar(total=self.stop_step, initial=self.step, desc=self.cfg.stage, unit="step", every=self.spe,
                        file=sys.stderr)
        self._install_signals()
        self.model.train()
        if self.step and self.step % self.spe == 0 and self.extra.get("epochs_ended", -1) < self.step // self.spe - 1:
            self._end_epoch(self.step // self.spe - 1, tb)   # killed between the last step and the epoch's end
        sums: dict[str, float] = {}
        count = 0
        t_log = time.perf_counter()
        try:
            while self.step < self.stop_step:
                epoch = self.step // self.spe
                epoch_stop = min((epoch + 1) * self.spe, self.stop_step)
                for step, micro in self.batches(self.step, epoch_stop):
                    assert step == self.step
                    lr = self.schedule.apply(self.optimizer, step)
                    values, bad = [], None
                    for m, batch in enumerate(micro):
                        shard = self.info.rank * self.cfg.accum_steps + m
                        value, logs, finite = self._micro_step(batch, shard, m == len(micro) - 1)
                        values.append(value)
                        if not finite and bad is None:
                            bad = (value, shard, batch)
                        for k, v in logs.items():       # the step's mean over its micro-batches
                            sums[k] = sums.get(k, 0.0) + float(v) / len(micro)
                    flags = torch.tensor([1.0 if bad else 0.0, 1.0 if self._signal else 0.0])
                    flags = all_reduce_sum(self.info, flags)
                    if flags[0] > 0:
                        if bad is not None:
                            raise self._non_finite(*bad)
                        raise NonFiniteLoss(f"non-finite loss on another rank at step {self.step}", self.step, -1,
                                            [], None)
                    grad_norm = self._optimizer_step()
                    self.step += 1
                    loss = sum(values) / len(values)
                    sums["loss"] = sums.get("loss", 0.0) + loss
                    count += 1
                    if grad_norm is not None:
                        sums["grad_norm"] = sums.get("grad_norm", 0.0) + grad_norm
                    if self.step % self.cfg.log_every == 0 or self.step == self.stop_step:
                        now = time.perf_counter()
                        means = mean_across_ranks(self.info, {k: v / count for k, v in sums.items()})
                        row = {"step": self.step, "epoch": round(self.step / self.spe, 4), "lr": lr,
                               **{k: means[k] for k in sums},
                               "sec_per_step": round((now - t_log) / count, 4)}
                        t_log = now
                        if csv_log is not None:
                            csv_log.write(row)
                        if tb is not None:
                            for k, v in row.items():
                                if k != "step":
                                    tb.add_scalar(f"train/{k}", v, self.step)
                        if bar is not None:
                            bar.set_postfix(loss=f"{row['loss']:.4f}", lr=f"{lr:.2e}")
                        sums, count = {}, 0
                    if bar is not None:     # after the postfix, so an epoch's log line shows its last loss
                        bar.update(1)
                    if (self.cfg.checkpoint_every and self.step % self.cfg.checkpoint_every == 0
                            and self.step != epoch_stop):      # the epoch's end or the run's end saves next
                        self.save()
                    if flags[1] > 0:
                        if self._signal is None:  # another rank was signalled
                            self._signal = int(signal.SIGTERM)
                        self._preempt()
                    self._test_hooks()
                if self.step == (epoch + 1) * self.spe:
                    self._end_epoch(epoch, tb)
            self.save(only_if_new=True)
        finally:
            self._restore_signals()
            if bar is not None:
                bar.close()
            if tb is not None:
                tb.close()
        self.elapsed += time.perf_counter() - self._t0
        return self.extra

    def _end_epoch(self, epoch: int, tb) -> None:
        broadcast_buffers(self.info, self.model)          # every rank evaluates with the same statistics
        if self.epoch_end is not None:
            out = self.epoch_end(epoch, self)
            self.model.train()
            if out and tb is not None:
                for k, v in out.items():
                    if isinstance(v, (int, float)):
                        tb.add_scalar(f"epoch/{k}", v, epoch)
        self.extra["epochs_ended"] = epoch
        self.save()
        flag = all_reduce_sum(self.info, torch.tensor([1.0 if self._signal else 0.0]))
        if flag[0] > 0:
            if self._signal is None:
                self._signal = int(signal.SIGTERM)
            self._preempt()

    def _preempt(self) -> None:
        signum = int(self._signal)
        self.save(only_if_new=True)
        log.warning("signal %d: checkpoint written at step %d (%s); stopping", signum, self.step, self.checkpoint_path)
        prev = self._prev_handlers.get(signum)
        self._restore_signals()
        if callable(prev):
            prev(signum, None)
        raise Preempted(signum, self.step)


__all__ = ["TrainLoop", "NonFiniteLoss", "Preempted", "amp_settings", "CsvLog", "HANDLED_SIGNALS"]
