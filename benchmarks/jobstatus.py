"""Where submitted runs stand: job records, scheduler states, and done / running / pending / failed / missing.

Every submission (benchmarks.executors.submit_runs) appends one JSON line per key to ``<folder>/jobs.jsonl``:
job id, key signature and name, executor, log paths, time. ``run_status`` joins the latest record of each key
with the result store and the scheduler (squeue / scontrol / sacct for SLURM, the result pickle and the process
for the local executor). ``python -m benchmarks.status`` prints it.
"""
from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import pickle
import re
import shutil
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from .runkey import RunKey
from .store import ResultStore

log = logging.getLogger(__name__)

RECORDS = "jobs.jsonl"
STATES = ("done", "running", "pending", "failed", "missing")


# ----------------------------------------------------------------------------------------------- records
_records_lock = threading.Lock()


def append_record(folder: Path, handle, extra: dict | None = None) -> None:
    """Append one submission record (job id, key, executor, log paths) of a RunHandle to <folder>/jobs.jsonl."""
    rec = {"job_id": handle.job_id, "signature": handle.key.signature, "name": handle.key.name,
           "key": handle.key.to_dict(), "executor": handle.executor,
           "stdout": str(handle.stdout) if handle.stdout else None,
           "stderr": str(handle.stderr) if handle.stderr else None,
           "folder": str(folder), "submitted_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
    rec.update(extra or {})
    line = json.dumps(rec, sort_keys=True) + "\n"
    with _records_lock, open(folder / RECORDS, "a", encoding="utf-8") as f:
        f.write(line)
        f.flush()


def read_records(folder: str | os.PathLike) -> dict[str, dict]:
    """Latest submission record per key signature, from every ``jobs.jsonl`` under ``folder``. Bad lines are
    logged with file and line number and skipped."""
    out: dict[str, dict] = {}
    folder = Path(folder)
    files = sorted(folder.rglob(RECORDS)) if folder.is_dir() else []
    rows = []
    for path in files:
        for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                rec["signature"]
            except (ValueError, KeyError, TypeError):
                log.warning("%s:%d: not a job record, skipped", path, n)
                continue
            rows.append(rec)
    rows.sort(key=lambda r: r.get("submitted_at") or "")
    for rec in rows:
        out[rec["signature"]] = rec
    return out


# ----------------------------------------------------------------------------------------------- messages
_PROGRESS = re.compile(r"\d+%\||\d+(\.\d+)?(it|s)/(s|it)\]|^\s*[\w .-]*:\s*\d+/\d+ \[")
_ERRORISH = re.compile(r"(Error|Exception|Interrupt|Killed|CANCELLED|DUE TO|error:|FAILED|Timeout|OOM)\b")
_NOISE = re.compile(r"^(-{5,}|=+|Error stream produced:|Traceback \(most recent call last\):|\^+)$")


def last_error_line(text: str, limit: int = 300) -> str:
    """The last meaningful line of an error text or a job's stderr: progress bars (tqdm, with their carriage
    returns), separators and blank lines dropped; the last line that names an error if there is one, else the
    last remaining line. An error line's indented continuation lines (a multi-line message: 'X does not fit Y:'
    then '  missing (1): [...]') are joined to it, so the line says what went wrong, not only its heading."""
    lines = []                                  # (text, indented): indented lines continue the line before
    for raw in re.split(r"[\r\n]+", str(text)):
        line = raw.strip()
        if not line or _PROGRESS.search(line) or _NOISE.match(line):
            lines.append(("", False))           # a break: no continuation across it
            continue
        lines.append((line, raw[:1] in (" ", "\t") and not line.startswith("File ")))
    kept = [i for i, (line, _) in enumerate(lines) if line]
    if not kept:
        return ""
    first = next((i for i in reversed(kept) if _ERRORISH.search(lines[i][0])), kept[-1])
    out = [lines[first][0]]
    for line, indented in lines[first + 1:]:
        if not (line and indented):
            break
        out.append(line)
    return " ".join(out)[:limit]


# ----------------------------------------------------------------------------------------------- status
@dataclass(frozen=True)
class RunStatus:
    key: RunKey
    state: str                      # one of STATES
    job_id: str | None = None
    scheduler_state: str | None = None
    stdout: str | None = None
    stderr: str | None = None
    detail: str = ""

    def to_dict(self) -> dict:
        return {"name": self.key.name, "signature": self.key.signature, "state": self.state, "job_id": self.job_id,
                "scheduler_state": self.scheduler_state, "stdout": self.stdout, "stderr": self.stderr,
                "detail": self.detail}


_PENDING = {"PENDING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "CONFIGURING", "RESV_DEL_HOLD", "POWER_UP_NODE"}
_RUNNING = {"RUNNING", "COMPLETING", "STAGE_OUT", "SIGNALING", "RESIZING", "SUSPENDED", "STOPPED"}


def _run(cmd: list[str]) -> str | None:
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    return p.stdout if p.returncode == 0 else None


def slurm_states(job_ids: Iterable[str]) -> dict[str, str]:
    """Scheduler state per job id ('123' or array task '123_4'): squeue for live jobs (one line per array
    task), scontrol for recently finished ones, then sacct (when accounting is on). Ids the scheduler no longer
    knows are absent."""
    ids = {str(j) for j in job_ids if j}
    if not ids or not shutil.which("squeue"):
        return {}
    states: dict[str, str] = {}
    out = _run(["squeue", "-h", "-r", "-o", "%i|%T"])
    for line in (out or "").splitlines():
        jid, _, st = line.strip().partition("|")
        if jid in ids:
            states[jid] = st.strip()
    rest = ids - set(states)
    if rest and shutil.which("scontrol"):  # finished jobs stay here for MinJobAge, accounting or not
        out = _run(["scontrol", "-o", "show", "job"])
        for line in (out or "").splitlines():
            f = dict(tok.split("=", 1) for tok in line.split() if "=" in tok)
            jid = f.get("JobId", "")
            if f.get("ArrayJobId") and f.get("ArrayTaskId", "").isdigit():
                jid = f"{f['ArrayJobId']}_{f['ArrayTaskId']}"
            if jid in rest and "JobState" in f:
                states[jid] = f["JobState"]
    rest = ids - set(states)
    if rest and shutil.which("sacct"):
        bases = sorted({j.split("_")[0] for j in rest})
        out = _run(["sacct", "-n", "-P", "-X", "-o", "JobID,State", "-j", ",".join(bases)])
        for line in (out or "").splitlines():
            jid, _, st = line.strip().partition("|")
            if jid in rest:
                states[jid] = st.split()[0] if st else "UNKNOWN"  # "CANCELLED by 0" -> CANCELLED
    return states


def _local_state(rec: dict) -> tuple[str, str]:
    """(state, detail) of a LocalExecutor job from its result pickle and its process."""
    jid = str(rec.get("job_id"))
    folder = Path(rec.get("folder") or ".")
    result = folder / f"{jid}_0_result.pkl"
    if result.exists():
        try:
            with open(result, "rb") as f:
                outcome = pickle.load(f)
            if outcome[0] == "error":
                return "failed", last_error_line(outcome[1])
        except Exception as e:  # noqa: BLE001 - a broken pickle is a failed job, not a crash of `status`
            return "failed", f"unreadable result pickle {result}: {e}"
        return "failed", "job finished but its result is not in the store"
    cmdline = Path(f"/proc/{jid}/cmdline")
    try:
        if jid.isdigit() and "submitit" in cmdline.read_bytes().decode(errors="replace"):
            return "running", ""
    except OSError:
        pass
    return "failed", "process gone without a result"


def run_status(keys: Iterable[RunKey], store: ResultStore | None = None,
               folder: str | os.PathLike | None = None) -> list[RunStatus]:
    """done / running / pending / failed / missing for each key, with job ids and log paths from the job
    records under ``folder`` (default: every grid folder under ``<store>/../submitit``)."""
    store = store or ResultStore()
    keys = list(keys)
    records = read_records(folder if folder is not None else store.root.parent / "submitit")
    slurm_ids = [records[k.signature]["job_id"] for k in keys
                 if k.signature in records and records[k.signature].get("executor") == "slurm"]
    sched = slurm_states(slurm_ids) if slurm_ids else {}
    out = []
    for k in keys:
        rec = records.get(k.signature)
        jid = rec.get("job_id") if rec else None
        logs = {"stdout": rec.get("stdout"), "stderr": rec.get("stderr")} if rec else {}
        if store.is_done(k):
            out.append(RunStatus(k, "done", jid, sched.get(str(jid)) if jid else None, **logs))
            continue
        failure = store.failure(k)
        fail_detail = ""
        if failure:
            fail_detail = last_error_line(failure.get("error", ""))
        if rec is None:
            out.append(RunStatus(k, "failed" if failure else "missing", detail=fail_detail))
            continue
        if rec.get("executor") == "local":
            state, detail = _local_state(rec)
            out.append(RunStatus(k, state, jid, None, detail=fail_detail or detail, **logs))
            continue
        st = sched.get(str(jid))
        if st in _PENDING:
            out.append(RunStatus(k, "pending", jid, st, detail=fail_detail, **logs))
        elif st in _RUNNING:
            out.append(RunStatus(k, "running", jid, st, **logs))
        elif st is not None:
            detail = fail_detail or (f"job {st.lower()} without a result in the store")
            out.append(RunStatus(k, "failed", jid, st, detail=detail, **logs))
        elif failure:
            out.append(RunStatus(k, "failed", jid, None, detail=fail_detail, **logs))
        else:
            out.append(RunStatus(k, "missing", jid, None, detail=f"scheduler no longer knows job {jid}; no result",
                                 **logs))
    return out


def summarize(statuses: Iterable[RunStatus]) -> dict[str, int]:
    counts = {s: 0 for s in STATES}
    for st in statuses:
        counts[st.state] += 1
    return counts
