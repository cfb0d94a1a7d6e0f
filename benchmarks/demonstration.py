"""The CPU training demonstration: stage 1 -> stage 2 -> stage 3 on the synthetic demo set with avfmae-micro.

    python -m benchmarks.demonstration [--data DIR] [--work runs/demo] [--quick]

It lives in the suite (not in avfmae.train) because it runs on the suite's synthetic demo set; it calls the
training stages with manifest sources, as any user of avfmae.train does.

Data (generated when missing, under the demo set's folder):
    demo        the suite's synthetic set (24 subjects x 6 classes x 3 clips; 6 classes = facial valence x vocal
                arousal, see benchmarks.datasets.synth). Fold 1: 16 training subjects, 8 held-out test subjects.
    demo-demonstration-extra
                a second synthetic corpus with other identities (seed 1, 24 subjects x 6 classes x 1 clip), used
                as the external data of stages 1 and 2: unlabelled for pre-training, and labelled with a DIFFERENT
                label space (valence only, 3 classes) for the hybrid stage 2.
The held-out fold-1 test subjects are never seen before the final test (not even unlabelled).

Runs (all with the same model, avfmae-micro, and the cpu presets; stage 3 selects the LAST epoch, so nothing
is chosen on the test subjects):
    stage 1   self-supervised pre-training on demo fold-1 train + the second corpus       -> avfmae-micro.<p>-s1
    stage 2   from s1: heads "demo" (6 classes, fold-1 train) and "valence" (3, 2nd corpus) -> avfmae-micro.<p>-s2
    stage 3   6 classes, fold-1 train -> fold-1 test, from: scratch, s1, s2 (audio-visual), and from s2 with
              video only and audio only (the other modality blanked, see avfmae.train.inputs)
Reported: held-out reconstruction loss before / after stage 1; stage-3 UAR / WAR on the held-out subjects, and the
accuracy of the two factors (valence: video, arousal: audio) read off the 6-class predictions.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

VALENCE_MAP = "0,0,1,1,2,2"        # demo label = 2 * valence + arousal
EXTRA = dict(seed=1, subjects=24, clips_per_class=1)

# epochs per run: (stage 1, stage 2, stage 3)
FULL = dict(s1=6, s2=16, s3=10)
QUICK = dict(s1=1, s2=1, s3=1)


def extra_folder(root: Path) -> Path:
    """The demonstration's external corpus beside the demo set. Not `<demo>-extra`: that folder is the suite's
    `demo-extra` (the main job's external corpus, other parameters), and one folder cannot hold both sets."""
    return root.parent / f"{root.name}-demonstration-extra"


def ensure_data(data: str | None) -> tuple[Path, Path, float]:
    from .datasets import synth

    t0 = time.perf_counter()
    root = synth.ensure(data, progress=False)
    extra = synth.ensure(extra_folder(root), progress=False, **EXTRA)
    return root, extra, time.perf_counter() - t0


def factor_accuracy(pred: dict) -> dict:
    y = np.asarray(pred["targets"])
    p = np.asarray(pred["probs"]).argmax(1)
    return {"valence_acc": 100.0 * float(np.mean(y // 2 == p // 2)),
            "arousal_acc": 100.0 * float(np.mean(y % 2 == p % 2))}


def run_demo(data: str | None = None, work: str = "runs/demo", quick: bool = False, tag_prefix: str = "demo",
             model: str = "avfmae-micro", epochs: dict | None = None, **overrides) -> dict:
    from avfmae.train import run_stage1, run_stage2, run_stage3, stage_config

    t0 = time.perf_counter()
    root, extra, gen_s = ensure_data(data)
    work = Path(work)
    ep = dict(QUICK if quick else FULL, **(epochs or {}))
    # threads=0: torch's default (every core); the cpu presets pin one thread so that tests can run side by side
    common = {"model": model, "cache_dir": str(work / "cache"), "progress": False, "threads": 0, **overrides}
    train, test = f"{root}/splits/fold1/train.tsv", f"{root}/splits/fold1/test.tsv"
    extra_sets = (f"{extra}/splits/fold1/train.tsv", f"{extra}/splits/fold1/test.tsv")
    timings = {"data_s": round(gen_s, 1)}

    t = time.perf_counter()
    s1 = run_stage1(stage_config("stage1", "cpu", data=(train, *extra_sets), eval_data=(test,), eval_every=0,
                                 epochs=ep["s1"], export_tag=f"{tag_prefix}-s1", **common), work / "s1")
    timings["stage1_s"] = round(time.perf_counter() - t, 1)

    t = time.perf_counter()
    s2_data = (f"{train}|name=demo", *(f"{e}|name=valence|map={VALENCE_MAP}" for e in extra_sets))
    s2 = run_stage2(stage_config("stage2", "cpu", data=s2_data, init=f"{model}.{tag_prefix}-s1", epochs=ep["s2"],
                                 export_tag=f"{tag_prefix}-s2", **common), work / "s2")
    timings["stage2_s"] = round(time.perf_counter() - t, 1)

    runs = {
        "scratch (AV)": dict(init=None),
        "from stage 1 (AV)": dict(init=f"{model}.{tag_prefix}-s1"),
        "from stage 2 (AV)": dict(init=f"{model}.{tag_prefix}-s2"),
        "from stage 2, video only": dict(init=f"{model}.{tag_prefix}-s2", modalities=("video",)),
        "from stage 2, audio only": dict(init=f"{model}.{tag_prefix}-s2", modalities=("audio",)),
    }
    rows = {}
    for i, (name, kw) in enumerate(runs.items()):
        t = time.perf_counter()
        cfg = stage_config("stage3", "cpu", train=train, test=test, selection="last", epochs=ep["s3"], **common,
                           **kw)
        r = run_stage3(cfg, work / f"s3-{i}")
        rows[name] = {**r["test"]["last"], **factor_accuracy(r["predictions"]["last"]),
                      "wall_s": round(time.perf_counter() - t, 1)}
    timings["stage3_s"] = round(sum(r["wall_s"] for r in rows.values()), 1)
    timings["total_s"] = round(time.perf_counter() - t0, 1)
    report = {"recon_before": s1["eval_before"], "recon_after": s1["eval_after"], "stage3": rows,
              "timings": timings, "epochs": ep, "exports": {"s1": s1["export"], "s2": s2["export"]},
              "data": {"demo": str(root), "extra": str(extra)}}
    report["markdown"] = markdown(report)
    work.mkdir(parents=True, exist_ok=True)
    (work / "report.json").write_text(json.dumps(report, indent=1, default=str))
    (work / "report.md").write_text(report["markdown"])
    return report


def markdown(report: dict) -> str:
    b, a = report["recon_before"], report["recon_after"]
    lines = ["Held-out reconstruction loss (fold-1 test subjects, fixed masks, centre view):", "",
             "| | video | audio | video + audio |", "|---|---|---|---|",
             f"| before stage 1 (random init) | {b['recon_video']:.3f} | {b['recon_audio']:.3f} | {b['recon']:.3f} |",
             f"| after stage 1 | {a['recon_video']:.3f} | {a['recon_audio']:.3f} | {a['recon']:.3f} |", "",
             "Stage 3, 6 classes, held-out fold-1 test subjects (last epoch, 2 x 2 views):", "",
             "| stage 3 run | UAR | WAR | valence acc (video factor) | arousal acc (audio factor) | wall s |",
             "|---|---|---|---|---|---|"]
    for name, r in report["stage3"].items():
        lines.append(f"| {name} | {r['uar']:.1f} | {r['war']:.1f} | {r['valence_acc']:.1f} | {r['arousal_acc']:.1f} "
                     f"| {r['wall_s']:.0f} |")
    t = report["timings"]
    lines += ["", f"Chance: UAR 16.7; valence 33.3; arousal 50.0. Wall time: data {t['data_s']:.0f} s, stage 1 "
              f"{t['stage1_s']:.0f} s, stage 2 {t['stage2_s']:.0f} s, stage 3 {t['stage3_s']:.0f} s, total "
              f"{t['total_s']:.0f} s (epochs {report['epochs']})."]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.demonstration",
                                 description="the CPU training demonstration: stage 1 -> 2 -> 3 on the synthetic "
                                             "demo set with avfmae-micro, with its comparisons")
    ap.add_argument("--data", default=None, help="demo set folder (default $AVF_DATA_ROOT/demo; generated if missing)")
    ap.add_argument("--work", default="runs/demo", help="work folder (default runs/demo)")
    ap.add_argument("--quick", action="store_true", help="a much shorter run (smoke test, numbers not meaningful)")
    ap.add_argument("--tag-prefix", default="demo", help="zoo tags <prefix>-s1, <prefix>-s2 (default demo)")
    args = ap.parse_args(argv)
    report = run_demo(args.data, args.work, quick=args.quick, tag_prefix=args.tag_prefix)
    print(report["markdown"])
    return 0


__all__ = ["run_demo", "ensure_data", "factor_accuracy", "markdown", "main"]


if __name__ == "__main__":
    sys.exit(main())
