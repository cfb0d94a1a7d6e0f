"""Compare the face detectors on real footage: `python -m avfmae.faces.bench [--video Megamind.avi]`.

Not a test: it prints a table (and `--json FILE` writes it) of, per detector,
    video      on the video (default: $AVF_TEST_MEDIA/Megamind.avi, from benchmarks/prep/fetch_test_media.sh):
               frames with a detection, frames with a detection of the main face (the tracker's chain),
               raw box jitter of the main face (track.raw_jitter: mean |second difference| of the box centre
               over consecutive detected frames / mean side; lower is steadier), eye-line angle found, ms/frame
    photos     scikit-image's face photos (astronaut, camera) and LFW subset (100 faces, 100 non-faces,
               25 px, shown at 100 px on a grey 160 px canvas): faces found, false positives on non-faces
               (the LFW non-faces, coffee, chelsea the cat)
Detectors: every one of detect.DETECTORS that can run here (MTCNN needs facenet-pytorch).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from .detect import DETECTORS, make_detector, mtcnn_available
from .track import build_tracks, main_chain, raw_jitter

__all__ = ["bench_video", "bench_photos", "main"]


def _frame_input(det, rgb):
    import cv2

    return rgb if det.wants == "rgb" else cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


def bench_video(name: str, path: Path, max_frames: int = 0) -> dict:
    import av

    det = make_detector(name)
    dets, seconds = [], 0.0
    with av.open(str(path)) as c:
        for i, f in enumerate(c.decode(video=0)):
            if max_frames and i >= max_frames:
                break
            x = _frame_input(det, f.to_ndarray(format="rgb24"))
            t0 = time.perf_counter()
            dets.append(det.detect(x))
            seconds += time.perf_counter() - t0
    chain = main_chain(build_tracks(dets))
    main_frames = sum(len(tr.frames) for tr in chain)
    angles = sum(d.angle is not None for tr in chain for d in tr.dets)
    n = len(dets)
    return {"frames": n, "any_face": round(sum(bool(d) for d in dets) / n, 3),
            "main_face": round(main_frames / n, 3), "raw_jitter": round(raw_jitter(chain), 4),
            "eye_angle": round(angles / max(main_frames, 1), 3), "ms_per_frame": round(1000 * seconds / n, 1)}


def _lfw_canvas(img: np.ndarray) -> np.ndarray:
    import cv2

    face = cv2.resize((img * 255).astype(np.uint8), (100, 100), interpolation=cv2.INTER_CUBIC)
    canvas = np.full((160, 160), int(face.mean()), np.uint8)
    canvas[30:130, 30:130] = face
    return np.repeat(canvas[:, :, None], 3, axis=2)


def bench_photos(name: str) -> dict:
    from skimage import data

    def count(img):
        det = make_detector(name)  # a fresh detector per photo: no tracking state between photos
        rgb = img if img.ndim == 3 else np.repeat(img[:, :, None], 3, axis=2)
        return len(det.detect(_frame_input(det, rgb)))

    lfw = data.lfw_subset()
    t0 = time.perf_counter()
    faces = sum(count(_lfw_canvas(x)) > 0 for x in lfw[:100])
    non = sum(count(_lfw_canvas(x)) > 0 for x in lfw[100:])
    ms = 1000 * (time.perf_counter() - t0) / 200
    return {"astronaut": count(data.astronaut()), "camera": count(data.camera()),
            "lfw_faces_found": f"{faces}/100", "lfw_nonfaces_flagged": f"{non}/100",
            "coffee_fp": count(data.coffee()), "cat_fp": count(data.chelsea()), "lfw_ms_per_image": round(ms, 1)}


def main(argv=None) -> int:
    default = Path(os.environ.get("AVF_TEST_MEDIA") or Path.home() / ".cache/avfmae/test-media") / "Megamind.avi"
    p = argparse.ArgumentParser(prog="python -m avfmae.faces.bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--video", type=Path, default=default.expanduser())
    p.add_argument("--frames", type=int, default=0, help="first N frames only (default: all)")
    p.add_argument("--detectors", default=",".join(DETECTORS))
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)
    import cv2
    import torch

    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    names = [d for d in args.detectors.split(",") if d != "mtcnn" or mtcnn_available()]
    results = {}
    for name in names:
        row = {}
        if args.video.is_file():
            row.update({f"video.{k}": v for k, v in bench_video(name, args.video, args.frames).items()})
        else:
            print(f"note: {args.video} missing (run benchmarks/prep/fetch_test_media.sh); photos only", file=sys.stderr)
        row.update({f"photos.{k}": v for k, v in bench_photos(name).items()})
        results[name] = row
        print(f"{name}: {row}", file=sys.stderr)
    from tabulate import tabulate

    keys = list(next(iter(results.values())))
    print(tabulate([[k] + [results[n][k] for n in names] for k in keys], headers=["(1 thread)"] + names))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
