"""on_error=skip: a corrupt clip is left out, and the stored result says which (clip, file, reason with the
manifest line); `benchmarks.run` prints the count. The README promises "skipped and reported"."""
import pytest

from benchmarks import run
from benchmarks.store import ResultStore
from benchmark_fixtures import tiny_demo, use_env

FAST = ["--set", "stages=3", "--set", "epochs=1", "--set", "batch_size=8", "--set", "progress=false",
        "--set", "on_error=skip"]
BAD = "s01-angry-01"      # line 4 of fold1/test.tsv (the header is line 1)


@pytest.fixture(scope="module")
def corrupt_demo(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("skip")
    mp = pytest.MonkeyPatch()
    use_env(mp, tmp)
    root = tiny_demo(tmp / "data")
    lines = (root / "splits" / "fold1" / "test.tsv").read_text().splitlines()
    assert lines[3].split("\t")[0] == BAD
    bad = root / "clips" / "s01" / f"{BAD}.mp4"
    bad.write_bytes(b"\x00not a video\xff" * 100)
    n_test = len(lines) - 1
    yield tmp, bad, n_test
    mp.undo()


@pytest.mark.parametrize("cache", ["true", "false"])
def test_skipped_clip_is_recorded_and_counted(corrupt_demo, capsys, cache):
    tmp, bad, n_test = corrupt_demo
    results = tmp / f"runs-{cache}" / "results"
    args = ["--model", "avfmae-micro", "--suite", "demo", "--folds", "fold1", "--executor", "inline",
            "--results", str(results), "--set", f"cache={cache}"] + FAST
    assert run.main(args) == 0
    out = capsys.readouterr().out
    (rec,) = list(ResultStore(results).iter_results())
    assert rec["n_test"] == n_test - 1                       # 12 test clips, one unreadable
    assert len(rec["skipped"]) == 1
    s = rec["skipped"][0]
    assert s["split"] == "test" and s["clip"] == BAD and s["file"] == str(bad)
    assert "test.tsv:4" in s["reason"] and str(bad) in s["reason"]   # the error as logged: the manifest line
    assert "1 clip skipped (on_error=skip) in 1 run" in out and BAD in out


def test_probe_records_the_skipped_clip(corrupt_demo, capsys):
    tmp, bad, n_test = corrupt_demo
    results = tmp / "runs-probe" / "results"
    assert run.main(["--model", "avfmae-micro", "--suite", "demo", "--folds", "fold1", "--executor", "inline",
                     "--protocol", "probe", "--results", str(results)]) == 0
    (rec,) = list(ResultStore(results).iter_results())
    assert rec["n_test"] == n_test - 1
    assert [(s["split"], s["clip"], s["file"]) for s in rec["skipped"]] == [("test", BAD, str(bad))]
    assert "1 clip skipped (on_error=skip) in 1 run" in capsys.readouterr().out
