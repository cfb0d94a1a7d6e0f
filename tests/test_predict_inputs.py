"""`python -m avfmae.predict` / `avfmae.extract` on awkward but realistic inputs: unwritable outputs, videos that
share a name, truncated files, audio that starts late or does not last as long as the picture, phone videos
stored sideways with a rotation tag.

The videos are tiny synthetic ones (64x48, PyAV) whose expected properties come from how they are built; the model
is avfmae-micro with a seeded random init (no face detector run: --no-face-crop, or the pipeline functions).
"""
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("cv2")
av = pytest.importorskip("av")

from avfmae.predict.__main__ import main as predict_main  # noqa: E402

MODEL = ["--model", "avfmae-micro", "--num-classes", "3", "--detector", "haar", "--no-progress"]


def test_unwritable_out_or_plot_stops_before_any_video(tmp_path, capsys):
    """Before: the first video was decoded, cropped and predicted, then a traceback (FileExistsError /
    IsADirectoryError) when its rows were written. Now: exit 2 at once, naming the option and the path."""
    blocker = tmp_path / "a-file.txt"
    blocker.write_text("x")
    not_a_video = tmp_path / "notes.mp4"   # would fail on its own (rc 1): the output check must come first
    not_a_video.write_text("hello")
    for option, target in (("--out", blocker / "p.jsonl"), ("--out", tmp_path), ("--plot", blocker / "p.png")):
        assert predict_main([str(not_a_video), option, str(target), *MODEL]) == 2
        err = capsys.readouterr().err
        assert f"{option} {target}: cannot write there" in err and "notes.mp4" not in err
    # a writable --out that does not exist yet is not left behind by the check when nothing is predicted
    assert predict_main([str(not_a_video), "--out", str(tmp_path / "new" / "p.jsonl"), *MODEL]) == 1
    assert not (tmp_path / "new" / "p.jsonl").exists()


def _write(path: Path, frames: np.ndarray, **kw) -> Path:
    """frames (n, H, W, 3) uint8 -> H.264 mp4 (avfmae.data.synthetic.write_mp4: audio, audio_start, options)."""
    from avfmae.data.synthetic import write_mp4

    return write_mp4(path, frames, **kw)


def _noise(n: int, h: int = 48, w: int = 64, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, h, w, 3), dtype=np.uint8)


def test_truncated_file_is_predicted_with_a_note(tmp_path, capsys):
    """A file cut off mid-way (its index, written first, announces 50 frames) decodes without an error up to the
    cut. Before: predicted over the part that decodes, with no word about the missing rest."""
    full = _write(tmp_path / "full.mp4", _noise(50), options={"movflags": "faststart"})
    cut = tmp_path / "cut off.mp4"
    cut.write_bytes(full.read_bytes()[:full.stat().st_size // 2])
    out = tmp_path / "p.jsonl"
    assert predict_main([str(cut), "--no-face-crop", "--out", str(out), *MODEL]) == 0
    err = capsys.readouterr().err
    assert f"note: {cut}: the file ends after" in err and "of the 50 frames its header announces" in err
    import json

    video = [json.loads(x) for x in out.read_text().splitlines()][-1]
    assert video["kind"] == "video" and 0 < video["duration"] < 50 / 25


@pytest.mark.parametrize("audio_start, audio_seconds, sound", [
    (1.0, 1.0, (1.0, 2.0)),    # the sound starts 1 s after the picture (the audio stream's start offset)
    (0.0, 4.0, (0.0, 2.0)),    # the sound lasts twice as long as the picture
    (0.0, 0.5, (0.0, 0.5)),    # the sound stops after a quarter of the picture
])
def test_audio_is_laid_on_the_picture_timeline(tmp_path, audio_start, audio_seconds, sound):
    """A 2 s picture (50 frames at 25 fps) with a 440 Hz tone of `audio_seconds` starting at `audio_start`: the
    prepared waveform is 2 s long with the tone exactly where it plays (`sound`), silence elsewhere. The windows
    take their audio at the fraction of the clip of their frames, so before (the wav as extracted: the start
    offset dropped, the length of the sound not the picture's) a window's audio came from the wrong time."""
    from avfmae.faces.pipeline import ExtractConfig
    from avfmae.predict.video import prepare_video

    sr = 16000
    t = np.arange(int(audio_seconds * sr)) / sr
    video = _write(tmp_path / "v.mp4", _noise(50), audio=0.5 * np.sin(2 * np.pi * 440 * t), audio_start=audio_start)
    prep = prepare_video(video, tmp_path / "work", ExtractConfig(detector="haar"), no_face_crop=True)
    wave = prep.waveform
    assert prep.duration == pytest.approx(2.0) and wave.shape == (2 * sr,)

    def rms(a, b):   # a margin of 50 ms either side of each edge: the AAC codec's onset and tail
        return float(np.sqrt(np.mean(wave[int(a * sr):int(b * sr)] ** 2)))

    lo, hi = sound
    assert rms(lo + 0.05, hi - 0.05) == pytest.approx(0.5 / np.sqrt(2), rel=0.1)
    if lo > 0:
        assert rms(0.0, lo - 0.05) < 0.01
    if hi < 2.0:
        assert rms(hi + 0.05, 2.0) < 0.01
    assert ("its sound covers" in prep.warning) == (sound != (0.0, 2.0))


def test_plot_names_unique_and_videos_done_once(tmp_path, capsys):
    """Two videos named clip.mp4 in different folders, the second also given by name: before, it was predicted
    twice (two "video" rows for it in --out) and both plots went to p-clip.png (the second overwrote the first)."""
    import json

    from avfmae.predict.__main__ import plot_names

    root = tmp_path / "videos"
    a = _write(root / "a" / "b" / "clip.mp4", _noise(8, seed=1))
    c = _write(root / "c" / "clip.mp4", _noise(8, seed=2))
    (root / "c" / "notes.txt").write_text("not a video")
    out, plot = tmp_path / "p.jsonl", tmp_path / "plots" / "p.png"
    assert predict_main([str(root), str(c), "--no-face-crop", "--out", str(out), "--plot", str(plot), *MODEL]) == 0
    videos = [r["video"] for r in map(json.loads, out.read_text().splitlines()) if r["kind"] == "video"]
    assert videos == [str(a), str(c)]
    assert sorted(p.name for p in plot.parent.iterdir()) == ["p-a-b-clip.png", "p-c-clip.png"]
    # the naming rule by hand: the stem where unique, else the path below the common folder, else with extension
    names = plot_names([Path("/x/a/b/short.mp4"), Path("/x/c/short.mp4"), Path("/x/c/y.mp4"), Path("/x/c/y.avi"),
                        Path("/x/d.mp4")])
    assert list(names.values()) == ["a-b-short", "c-short", "c-y.mp4", "c-y.avi", "d"]


def test_extract_videos_differing_only_in_extension_are_both_embedded(tmp_path):
    """clip.mp4 and clip.mkv (different content) share the id "clip": before, the second was skipped as already
    embedded and features.npz held the first one's feature twice, both under "clip"."""
    from avfmae.extract.__main__ import main as extract_main

    root = tmp_path / "videos"
    _write(root / "clip.mp4", _noise(8, seed=1))
    _write(root / "clip.mkv", _noise(8, seed=2))
    out = tmp_path / "feat"
    assert extract_main(["--model", "avfmae-micro", "--videos", str(root), "--out", str(out), "--no-face-crop",
                         "--no-progress"]) == 0
    z = np.load(out / "features.npz")
    assert list(z["ids"]) == ["clip.mkv", "clip.mp4"]
    assert not np.allclose(z["features"][0], z["features"][1])


def test_extract_exit_code_says_when_some_videos_failed(tmp_path, capsys):
    """One readable video and one that is not a video: the good one is embedded, and the exit code is 1 (it was 0,
    so a script could not tell), as predict's; a folder where every video is fine gives 0."""
    from avfmae.extract.__main__ import main as extract_main

    root = tmp_path / "videos"
    _write(root / "good.mp4", _noise(8, seed=1))
    args = ["--model", "avfmae-micro", "--videos", str(root), "--out", str(tmp_path / "feat"), "--no-face-crop",
            "--no-progress"]
    assert extract_main(args) == 0
    (root / "broken.mp4").write_text("not a video")
    assert extract_main(args) == 1
    err = capsys.readouterr().err
    assert "broken.mp4" in err and "1 of 2 clips embedded" in err and "1 failed" in err
    assert list(np.load(tmp_path / "feat" / "features.npz")["ids"]) == ["good"]


def test_phone_video_stored_sideways_is_cropped_upright(tmp_path):
    """A portrait phone video is stored sideways with a 90 degree rotation in its display matrix; players (and
    ffmpeg, the reference here) show it upright. Before, the face pipeline worked on the stored, sideways frames
    (faces on their side: MTCNN found the face in 20 % of a real clip's frames instead of 96 %)."""
    import shutil
    import subprocess
    from dataclasses import replace

    import cv2

    from avfmae.faces.pipeline import ExtractConfig, centre_path, scan_faces, write_crops

    if shutil.which("ffmpeg") is None:
        pytest.skip("the reference (ffmpeg's automatic rotation) needs the ffmpeg command line")
    y, x = np.mgrid[0:48, 0:64]
    img = np.repeat((3 * x + 60 * (y < 16))[..., None], 3, axis=2).clip(0, 255).astype(np.uint8)  # stored 64x48
    path = tmp_path / "phone.mp4"
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=25)
        vs.width, vs.height, vs.pix_fmt = 64, 48, "yuv444p"
        if not hasattr(vs, "set_display_rotation"):
            pytest.skip("this PyAV cannot write a display matrix")
        vs.set_display_rotation(90)
        for _ in range(4):
            for p in vs.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(p)
        for p in vs.encode():
            out.mux(p)
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-frames:v", "1", "-f", "rawvideo", "-pix_fmt",
                          "rgb24", "-"], stdout=subprocess.PIPE, check=True).stdout
    shown = np.frombuffer(raw, np.uint8).reshape(64, 48, 3)        # upright: 48 wide, 64 high
    cfg = ExtractConfig(detector="haar", size=48, align=False)
    scan = scan_faces(path, cfg)
    assert scan.size == (48, 64)
    folder = tmp_path / "crops"
    folder.mkdir()
    write_crops(path, scan.frame_map, centre_path(scan), replace(cfg, margin=0.0), folder)
    crop = cv2.cvtColor(cv2.imread(str(folder / "img_00001.jpg")), cv2.COLOR_BGR2RGB).astype(float)
    assert np.abs(crop - shown[8:56]).mean() < 8      # the centre square of the frame as shown


@pytest.mark.parametrize("option, value", [("--hop", "0"), ("--hop", "-1"), ("--batch-size", "0")])
def test_non_positive_hop_or_batch_size_is_refused(option, value, capsys):
    """Before: --hop 0 or -1 silently became one stride (0.16 s), --batch-size 0 a traceback mid-video."""
    with pytest.raises(SystemExit) as stop:
        predict_main(["some.mp4", option, value, *MODEL])
    assert stop.value.code == 2 and f"argument {option}: '{value}' is not a positive" in capsys.readouterr().err


def test_weights_file_wins_over_the_tag_in_the_model_name(tmp_path, monkeypatch):
    """`--model avfmae-micro.t3 --weights other.safetensors`: before, the tag's weights were used and --weights
    ignored, while the rows' "model" field named other.safetensors."""
    import torch

    import zoo
    from avfmae.predict.model import load_model
    from avfmae.train.export import export_weights

    monkeypatch.setenv("AVF_ZOO_DIR", str(tmp_path / "zoo"))
    heads = {}
    for seed, tag in ((3, "t3"), (4, "t4")):
        torch.manual_seed(seed)
        model = zoo.create_model("avfmae-micro", num_classes=3)
        heads[tag] = model.head.weight.detach().clone()
        export_weights(model, "avfmae-micro", tag, "finetune", "stage3", {"task": "classification"}, num_classes=3)
    other = tmp_path / "zoo" / "avfmae-micro" / "t4.safetensors"
    assert other.is_file()
    lm = load_model("avfmae-micro.t3", str(other))
    assert lm.weights == str(other)
    assert torch.equal(lm.model.head.weight, heads["t4"]) and not torch.equal(heads["t3"], heads["t4"])
    assert torch.equal(load_model("avfmae-micro.t3").model.head.weight, heads["t3"])


def test_labels_file_that_does_not_exist_is_named(tmp_path):
    """A mistyped --labels file was taken as one label name 'labls.txt' (the error then spoke of the label count;
    for a one-output model the name was silently used)."""
    from avfmae.predict.model import parse_labels

    (tmp_path / "labels.txt").write_text("calm\nhappy\n\nsad\n")
    assert parse_labels(str(tmp_path / "labels.txt")) == ("calm", "happy", "sad")
    # saved by Windows Notepad: a byte-order mark and CRLF line ends (the mark was glued to the first name)
    (tmp_path / "notepad.txt").write_bytes(b"\xef\xbb\xbfcalm\r\nhappy\r\nsad\r\n")
    assert parse_labels(str(tmp_path / "notepad.txt")) == ("calm", "happy", "sad")
    assert parse_labels("calm, happy,sad") == ("calm", "happy", "sad")
    assert parse_labels("valence") == ("valence",)
    for typo in (str(tmp_path / "labls.txt"), "labls.txt"):
        with pytest.raises(FileNotFoundError, match=f"--labels {typo}: no such file"):
            parse_labels(typo)


def test_resume_refuses_a_file_of_another_model(tmp_path, capsys):
    """--out preds.jsonl holding clip.mp4's rows from avfmae-micro.t3 (labels a, b, c), then another model into the
    same file: before, clip.mp4 was skipped as done ("0 predicted, 1 already in") and the file kept the other
    model's numbers as if they were this one's."""
    import json

    clip = _write(tmp_path / "clip.mp4", _noise(8))
    out = tmp_path / "preds.jsonl"
    base = {"video": str(clip), "kind": "video", "windows": 1, "start": 0.0, "end": 0.32, "label": "a"}
    cases = [({"model": "avfmae-micro.t3", "probs": {"class_0": 0.2, "class_1": 0.3, "class_2": 0.5}},
              f"{clip} was predicted by avfmae-micro.t3, not avfmae-micro"),
             ({"model": "avfmae-micro", "probs": {"a": 0.2, "b": 0.3, "c": 0.5}},
              "its outputs ['a', 'b', 'c'] are not this model's ['class_0', 'class_1', 'class_2']")]
    for extra, why in cases:
        out.write_text(json.dumps({**base, **extra}) + "\n")
        before = out.read_text()
        assert predict_main([str(clip), "--no-face-crop", "--out", str(out), *MODEL]) == 2
        assert f"{out}: {why}; resuming would skip its videos" in capsys.readouterr().err
        assert out.read_text() == before


def test_resume_finds_a_video_named_another_way(tmp_path, monkeypatch, capsys):
    """The first run was given the folder's absolute path, the resumed one a relative path (or the reverse):
    before, every video was predicted again and got a second set of rows in --out."""
    _write(tmp_path / "videos" / "clip.mp4", _noise(8))
    out = tmp_path / "preds.jsonl"
    assert predict_main([str(tmp_path / "videos"), "--no-face-crop", "--out", str(out), *MODEL]) == 0
    before = out.read_text()
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    assert predict_main(["videos", "--no-face-crop", "--out", "preds.jsonl", *MODEL]) == 0
    assert "0 predicted, 1 already in" in capsys.readouterr().err
    assert out.read_text() == before


def test_resume_drops_a_half_written_csv_line(tmp_path, capsys):
    """A CSV whose last line was cut mid-write (no newline: after its 'video' kind, in the middle of a number):
    before, that partial row counted as the video's result and the video was skipped with it."""
    import csv

    clip = _write(tmp_path / "clip.mp4", _noise(8))
    out = tmp_path / "preds.csv"
    assert predict_main([str(clip), "--no-face-crop", "--out", str(out), *MODEL]) == 0
    full = out.read_text()
    assert full.endswith("\n")
    out.write_text(full[:full.rindex(",video,") + len(",video,,0.0,0.3")])   # killed while writing the row
    capsys.readouterr()
    assert predict_main([str(clip), "--no-face-crop", "--out", str(out), *MODEL]) == 0
    assert "1 predicted, 0 already in" in capsys.readouterr().err
    assert out.read_text() == full        # the same seeded model and input: the same rows
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["kind"] for r in rows][-1] == "video"
    for partial in ("video,kind,win",):   # killed while writing the header
        out.write_text(partial)
        assert predict_main([str(clip), "--no-face-crop", "--out", str(out), *MODEL]) == 0
        assert out.read_text() == full


def test_linked_folders_are_searched(tmp_path):
    """videos/ holding a link to another folder of videos (a corpus linked in): before, os.walk did not follow it
    and its videos were silently left out. A link back up the tree does not loop."""
    from avfmae.faces.pipeline import find_videos

    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "b.mp4").write_bytes(b"")
    (tmp_path / "videos" / "own").mkdir(parents=True)
    (tmp_path / "videos" / "own" / "a.mp4").write_bytes(b"")
    (tmp_path / "videos" / "own" / "notes.txt").write_text("x")
    (tmp_path / "videos" / "linked").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (tmp_path / "videos" / "own" / "up").symlink_to(tmp_path / "videos", target_is_directory=True)
    found = find_videos(tmp_path / "videos")
    assert [f.relative_to(tmp_path / "videos").as_posix() for f in found] == ["linked/b.mp4", "own/a.mp4"]


def test_out_that_is_not_a_text_file_is_named(tmp_path, capsys):
    """--out naming a binary file (here a video; or a CSV re-saved in another encoding): before, the error was
    Python's bare "'utf-8' codec can't decode byte ..." without the file."""
    clip = _write(tmp_path / "clip.mp4", _noise(8))
    before = clip.read_bytes()
    assert predict_main([str(clip), "--out", str(clip), "--format", "csv", *MODEL]) == 2
    assert f"error: {clip}: not a UTF-8 csv file of predictions" in capsys.readouterr().err
    assert clip.read_bytes() == before


def test_stream_changing_resolution_keeps_one_coordinate_system(tmp_path):
    """The same picture at 64x48 for 8 frames, then at 32x24 (an adaptive-streaming download): before, boxes of
    the first part were applied to the smaller frames (the scan's size was the last frame's, the centre square
    of a 32x24 frame was cut from the 64x48 ones). Now every frame is scaled to the first one's size, as ffmpeg's
    automatic scaling does, and the centre crops of both parts show the same thing."""
    import shutil
    import subprocess
    from dataclasses import replace

    import cv2

    from avfmae.faces.pipeline import ExtractConfig, centre_path, scan_faces, write_crops

    if shutil.which("ffmpeg") is None:
        pytest.skip("joining two resolutions in one stream needs the ffmpeg command line")
    y, x = np.mgrid[0:48, 0:64]
    big = np.repeat((3 * x + 60 * (y < 16))[..., None], 3, axis=2).clip(0, 255).astype(np.uint8)
    small = cv2.resize(big, (32, 24), interpolation=cv2.INTER_AREA)
    parts = [_write(tmp_path / "a.mp4", np.stack([big] * 8)), _write(tmp_path / "b.mp4", np.stack([small] * 8))]
    (tmp_path / "list.txt").write_text("".join(f"file '{p}'\n" for p in parts))
    path = tmp_path / "joined.mkv"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "concat", "-safe", "0", "-i", str(tmp_path / "list.txt"), "-c",
                    "copy", str(path)], check=True)
    cfg = ExtractConfig(detector="haar", size=48, align=False, fps=0)   # fps 0: every source frame
    scan = scan_faces(path, cfg)
    assert scan.frames_in == 16 and scan.size == (64, 48)
    folder = tmp_path / "crops"
    folder.mkdir()
    write_crops(path, scan.frame_map, centre_path(scan), replace(cfg, margin=0.0), folder)
    first, last = (cv2.imread(str(folder / f"img_{k:05d}.jpg")).astype(float) for k in (1, 16))
    assert np.abs(first - big[:, 8:56, ::-1]).mean() < 8       # the centre square of the 64x48 picture
    assert np.abs(last - first).mean() < 12                     # the same square, from the 32x24 frames


def test_joined_files_whose_clock_restarts_keep_all_their_frames(tmp_path):
    """Two 8-frame MPEG-TS files joined byte for byte (`cat a.ts b.ts`), each with its clock starting again: ffmpeg
    plays 16 frames (0.64 s at 25 fps). Before, the second file's frames had times before the first's end and were
    all mapped onto the first file's last instant: the prediction covered 0.32 s and lost the rest."""
    from avfmae.faces.pipeline import ExtractConfig, continuous_times, scan_faces

    a, b = _write(tmp_path / "a.ts", _noise(8, seed=1)), _write(tmp_path / "b.ts", _noise(8, seed=2))
    joined = tmp_path / "joined.ts"
    joined.write_bytes(a.read_bytes() + b.read_bytes())
    scan = scan_faces(joined, ExtractConfig(detector="haar"))
    assert scan.frames_in == 16
    np.testing.assert_array_equal(scan.frame_map, np.arange(16))   # 25 fps in and out: each frame once, in order
    # by hand: a reset after 0.12 s continues one frame period (0.04 s) later; a small step back is left alone
    assert continuous_times([5.0, 5.04, 5.08, 5.12, 4.0, 4.04], 25.0) == pytest.approx([5.0, 5.04, 5.08, 5.12,
                                                                                         5.16, 5.2])
    assert continuous_times([0.0, 0.08, 0.04, 0.12], 25.0) == [0.0, 0.08, 0.04, 0.12]


def test_extract_resume_adds_asked_arrays_and_refuses_another_model(tmp_path, capsys):
    """extract into OUT, then again with --regions: before, every clip was skipped as done and features.npz had
    no region arrays although --regions was given. Then another model (seed) into the same OUT: before, the
    first model's clip files were kept as this model's features."""
    from avfmae.data.manifest import write_manifest
    from avfmae.data.synthetic import make_clips
    from avfmae.extract.__main__ import main as extract_main

    root = tmp_path / "data"
    recs = make_clips(root, 2, kind="mp4", num_frames=20, size=64)
    write_manifest(root / "splits" / "f1" / "test.tsv", recs)
    out = tmp_path / "feat"
    args = ["--model", "avfmae-micro", "--manifest", str(root / "splits" / "f1" / "test.tsv"), "--out", str(out),
            "--no-progress"]
    assert extract_main(args) == 0
    assert "region_video" not in np.load(out / "features.npz").files
    assert extract_main(args + ["--regions"]) == 0
    z = np.load(out / "features.npz")
    assert z["region_video"].shape[0] == 2 and list(z["ids"]) == [r.clip for r in recs]
    capsys.readouterr()
    assert extract_main(args + ["--seed", "1"]) == 2
    assert f"{out} holds the features of" in capsys.readouterr().err


def test_extract_resume_same_weights_named_another_way(tmp_path, monkeypatch):
    """The same weights file given absolute, then relative: the same model, not refused as another one."""
    import torch

    import zoo
    from avfmae.extract.__main__ import main as extract_main
    from avfmae.train.export import export_weights

    monkeypatch.setenv("AVF_ZOO_DIR", str(tmp_path / "zoo"))
    torch.manual_seed(3)
    export_weights(zoo.create_model("avfmae-micro", num_classes=3), "avfmae-micro", "t3", "finetune", "stage3",
                   {"task": "classification"}, num_classes=3)
    _write(tmp_path / "videos" / "clip.mp4", _noise(8))
    common = ["--model", "avfmae-micro", "--videos", "videos", "--out", "feat", "--no-face-crop", "--no-progress"]
    monkeypatch.chdir(tmp_path)
    assert extract_main(common + ["--weights", str(tmp_path / "zoo" / "avfmae-micro" / "t3.safetensors")]) == 0
    assert extract_main(common + ["--weights", "zoo/avfmae-micro/t3.safetensors"]) == 0


def test_on_video_timeline_by_hand():
    """0.5 s of sound (ones) on a 2 s picture at offsets computed by hand, including sound that starts after the
    picture's end (before: a crash on the negative padding) or ends before its start."""
    from avfmae.predict.video import on_video_timeline

    sr = 16000
    sound = np.ones(sr // 2, np.float32)
    for offset, span in ((-1.0, None), (-0.25, (0.0, 0.25)), (0.0, (0.0, 0.5)), (0.02, (0.0, 0.5)),
                         (0.5, (0.5, 1.0)), (1.75, (1.75, 2.0)), (2.5, None)):
        wave, note = on_video_timeline(sound, offset, 2.0, 0.04)   # 0.02 s: within one frame, left alone
        assert wave.shape == (2 * sr,) and wave.dtype == np.float32
        on = np.flatnonzero(wave)
        assert (None if on.size == 0 else (on[0] / sr, (on[-1] + 1) / sr)) == span
        assert "its sound covers" in note


def test_camcorder_and_dvd_files_are_found():
    """A folder of AVCHD camcorder (.m2ts), DVD (.vob), broadcast (.mxf) and DV (.dv) files: before, none was a
    video by its extension and a folder run said 'no video files' (or left them out of a mixed folder)."""
    import tempfile

    from avfmae.faces.pipeline import find_videos

    with tempfile.TemporaryDirectory() as d:
        for name in ("00001.M2TS", "VTS_01_1.VOB", "clip.mxf", "tape.dv", "notes.txt"):
            (Path(d) / name).write_bytes(b"")
        assert [f.name for f in find_videos(d)] == ["00001.M2TS", "VTS_01_1.VOB", "clip.mxf", "tape.dv"]


def test_stdout_closed_by_its_reader_ends_quietly(tmp_path, monkeypatch):
    """`python -m avfmae.predict videos/ | head -1`: before, a BrokenPipeError traceback when head had gone."""
    import sys

    class ClosedPipe:
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self):
            raise BrokenPipeError(32, "Broken pipe")

    clip = _write(tmp_path / "clip.mp4", _noise(8))
    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    assert predict_main([str(clip), "--no-face-crop", *MODEL]) == 1


def test_resume_same_weights_named_another_way(tmp_path, monkeypatch, capsys):
    """The same weights file given as an absolute path, then relative to the current folder: the same model, so
    the resumed run skips the video (the refusal of another model's file must not fire)."""
    import torch

    import zoo
    from avfmae.train.export import export_weights

    monkeypatch.setenv("AVF_ZOO_DIR", str(tmp_path / "zoo"))
    torch.manual_seed(3)
    export_weights(zoo.create_model("avfmae-micro", num_classes=3), "avfmae-micro", "t3", "finetune", "stage3",
                   {"task": "classification"}, num_classes=3)
    weights = tmp_path / "zoo" / "avfmae-micro" / "t3.safetensors"
    clip = _write(tmp_path / "clip.mp4", _noise(8))
    out = tmp_path / "preds.jsonl"
    common = ["--no-face-crop", "--detector", "haar", "--no-progress", "--model", "avfmae-micro"]
    assert predict_main([str(clip), "--weights", str(weights), "--out", str(out), *common]) == 0
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    assert predict_main(["clip.mp4", "--weights", "zoo/avfmae-micro/t3.safetensors", "--out", "preds.jsonl",
                         *common]) == 0
    assert "0 predicted, 1 already in" in capsys.readouterr().err


def test_avi_with_b_frames_is_not_called_truncated(tmp_path):
    """An AVI of MPEG-4 with B-frames and MP3 sound (ffmpeg's defaults for -c:v mpeg4 -bf 2): its index counts one
    frame more than decodes (a placeholder). The truncation check must not call that file cut off."""
    import shutil
    import subprocess

    from avfmae.faces.pipeline import ExtractConfig, scan_faces

    if shutil.which("ffmpeg") is None:
        pytest.skip("the ffmpeg command line writes this AVI")
    path = tmp_path / "b.avi"
    made = subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=25", "-f", "lavfi",
                           "-i", "sine=sample_rate=16000", "-t", "1", "-c:v", "mpeg4", "-bf", "2", "-c:a",
                           "libmp3lame", str(path)])
    if made.returncode != 0:
        pytest.skip("this ffmpeg has no MP3 encoder")
    with av.open(str(path)) as c:
        announced = c.streams.video[0].frames
    scan = scan_faces(path, ExtractConfig(detector="haar"))
    assert 0 < announced - scan.frames_in <= 2 and scan.error is None
