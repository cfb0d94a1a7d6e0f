"""avfmae.atomic: atomic writes, the file lock, stale temp files of killed writers; concurrent tag registration."""
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from avfmae.atomic import TEMP_PATTERN, LockTimeout, atomic_path, atomic_write, file_lock, remove_stale

ROOT = Path(__file__).resolve().parents[1]


def _register_many(zoo: str, prefix: str, n: int, start) -> None:
    os.environ["AVF_ZOO_DIR"] = zoo
    from zoo.weights import WeightsRecord, register_weights
    start.wait()
    for i in range(n):
        register_weights(WeightsRecord(tag=f"{prefix}{i}", model="avfmae-tiny", file=f"{prefix}{i}.safetensors",
                                       sha256="0" * 64, arch_hash="x", kind="pretrain"))


def test_concurrent_tag_registration_keeps_every_tag(tmp_path):
    """Two processes registering 200 tags each: all 400 survive (without the lock about 202 did)."""
    from zoo.weights import load_tags
    ctx = mp.get_context("fork")
    start = ctx.Event()
    procs = [ctx.Process(target=_register_many, args=(str(tmp_path / "zoo"), p, 200, start)) for p in ("a", "b")]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    old = os.environ.get("AVF_ZOO_DIR")
    os.environ["AVF_ZOO_DIR"] = str(tmp_path / "zoo")
    try:
        tags = load_tags()
    finally:
        if old is None:
            del os.environ["AVF_ZOO_DIR"]
        else:
            os.environ["AVF_ZOO_DIR"] = old
    expected = {f"avfmae-tiny.{p}{i}" for p in "ab" for i in range(200)}
    assert set(tags) == expected, f"{len(expected - set(tags))} of 400 tags lost"
    assert not [p for p in (tmp_path / "zoo").iterdir() if TEMP_PATTERN.match(p.name)]


def test_file_lock_excludes_and_times_out(tmp_path):
    lock = tmp_path / "x.lock"
    with file_lock(lock):
        # another process cannot take it; its timeout message names the file and our pid
        r = subprocess.run([sys.executable, "-c", textwrap.dedent(f"""
            from avfmae.atomic import file_lock, LockTimeout
            try:
                with file_lock({str(lock)!r}, timeout=0.3):
                    print("taken")
            except LockTimeout as e:
                print("timeout", e)
            """)], capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert r.stdout.startswith("timeout"), r.stdout + r.stderr
        assert str(lock) in r.stdout and str(os.getpid()) in r.stdout
    with file_lock(lock, timeout=0.3):  # released on exit
        pass
    with file_lock(lock, shared=True), file_lock(lock, shared=True, timeout=0.3):  # shared holders coexist
        pass
    with file_lock(lock, shared=True):
        with pytest.raises(LockTimeout):
            with file_lock(lock, timeout=0.2):
                pass


def test_atomic_write_error_leaves_old_file_and_no_temp(tmp_path):
    target = tmp_path / "a.txt"
    atomic_write(target, lambda f: f.write("old"), binary=False)

    def boom(f):
        f.write(b"half")
        raise RuntimeError("writer failed")
    with pytest.raises(RuntimeError):
        atomic_write(target, boom)
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]
    with atomic_path(tmp_path / "b.npz", keep_suffix=True) as tmp:
        assert tmp.suffix == ".npz" and TEMP_PATTERN.match(tmp.name)
        tmp.write_bytes(b"x")
    assert (tmp_path / "b.npz").read_bytes() == b"x"


_KILLED_WRITER = """
import sys, time
from avfmae.atomic import atomic_write
def write(f):
    f.write(b"x" * (8 << 20))
    f.flush()
    print("writing", flush=True)
    time.sleep(60)
atomic_write(sys.argv[1], write)
"""


def _killed_mid_write(target: Path) -> Path:
    """A subprocess SIGKILLed in the middle of an atomic_write of a large file; returns the temp file it left."""
    p = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, str(target)], stdout=subprocess.PIPE, text=True,
                         cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert p.stdout.readline().strip() == "writing"
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait()
    left = [q for q in target.parent.iterdir() if TEMP_PATTERN.match(q.name)]
    assert len(left) == 1 and left[0].stat().st_size == 8 << 20 and not target.exists()
    return left[0]


def test_remove_stale_deletes_dead_writers_temp_only(tmp_path):
    dead = _killed_mid_write(tmp_path / "big.pt")
    live = tmp_path / f".other.pt.{os.getpid()}.0123abcd.tmp"        # a live writer's (ours)
    live.write_bytes(b"in progress")
    lookalike = tmp_path / ".notes.tmp"                                  # not the pattern: never touched
    lookalike.write_bytes(b"user file")
    assert remove_stale(tmp_path) == [dead]
    assert live.exists() and lookalike.exists() and not dead.exists()


def test_remove_stale_keeps_a_locked_temp_of_another_machine(tmp_path):
    """A pid that is not alive here may be a writer on another node: its flock on the temp file keeps it."""
    with atomic_path(tmp_path / "w.bin") as tmp:
        tmp.write_bytes(b"x")
        foreign = tmp.with_name(TEMP_PATTERN.sub(lambda m: f".{m['name']}.999999999.{m['rand']}.tmp", tmp.name))
        os.link(tmp, foreign)  # same inode, so the same lock; the name carries a pid not alive here
        assert remove_stale(tmp_path) == []
    foreign.unlink()


def test_training_setup_removes_stale_temp_files(tmp_path):
    """Resuming a run (train.common.setup on the same work dir) removes a killed writer's checkpoint temp file."""
    from avfmae.train.common import setup
    from avfmae.train.config import stage_config
    work = tmp_path / "work"
    work.mkdir()
    dead = _killed_mid_write(work / "checkpoint.pt")
    live = work / f".log.csv.{os.getpid()}.0123abcd.tmp"
    live.write_bytes(b"")
    setup(stage_config("stage1", "cpu", model="avfmae-tiny"), work)
    assert not dead.exists() and live.exists()
