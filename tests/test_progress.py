"""Progress output: a bar on a terminal, one line per epoch (not carriage-return updates) in a log (issue #11)."""
import io

from avfmae import progress as P


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_log_file_gets_one_line_per_every_units():
    out = io.StringIO()
    b = P.bar(total=40, desc="stage3", unit="step", every=10, file=out)
    assert isinstance(b, P.LineProgress)
    for i in range(40):
        b.set_postfix(loss=f"{1 / (i + 1):.3f}")
        b.update(1)
    b.close()
    lines = out.getvalue().splitlines()
    assert len(lines) == 40 // 10                                   # one line per 10 steps, none at close
    assert [ln.split(":")[1].split()[0] for ln in lines] == ["10/40", "20/40", "30/40", "40/40"]
    assert "\r" not in out.getvalue() and "loss=0.025" in lines[-1]   # 1/40 after the last update


def test_resumed_bar_counts_from_its_start_and_prints_the_tail_at_close():
    out = io.StringIO()
    b = P.bar(total=25, initial=10, desc="s", every=10, file=out)
    for _ in range(15):
        b.update(1)
    b.close()
    assert [ln.split(":")[1].split()[0] for ln in out.getvalue().splitlines()] == ["20/25", "25/25"]


def test_terminal_gets_a_tqdm_bar_and_disabled_prints_nothing():
    from tqdm import tqdm

    b = P.bar(total=3, desc="x", file=_Tty())
    assert isinstance(b, tqdm)
    b.close()
    out = io.StringIO()
    for _ in P.iterate(range(5), desc="quiet", disable=True, file=out):
        pass
    assert out.getvalue() == ""


def test_training_writes_one_progress_line_per_epoch_to_a_log(tmp_path, capsys):
    from avfmae.train import run_stage3
    from train_fixtures import tiny_demo, tiny_stage3

    cfg = tiny_stage3(tiny_demo(), epochs=3, progress=True, cache_dir=str(tmp_path / "cache"))
    run_stage3(cfg, tmp_path / "s3")
    err = capsys.readouterr().err            # captured: not a terminal, as a SLURM output file
    lines = [ln for ln in err.splitlines() if ln.startswith("stage3:")]
    assert len(lines) == 3, err[-2000:]       # epochs=3 -> 3 lines, whatever the steps per epoch
    assert lines[-1].split()[1].split("/")[0] == lines[-1].split()[1].split("/")[1]
