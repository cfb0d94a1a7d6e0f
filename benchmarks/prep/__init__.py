"""Raw-video preparation: face detection, tracking, cropping (+ optional eye-line alignment), wav extraction,
and the resumable parallel extractor behind `python -m benchmarks.data extract`.

    from benchmarks.prep import ExtractConfig, run_extract
    summary = run_extract("raw/", "prepared/", ExtractConfig(size=224, fps=25), workers=2)

Modules: detect (OpenCV Haar face/eye cascades), track (detections -> one smoothed box per frame), crop
(square, margin, rotation), audio (ffmpeg CLI or decord/PyAV -> 16 kHz mono PCM16 wav), extract (per-video
work, markers, process pool, report). `fetch_test_media.sh` fetches the real test footage (Megamind.avi).
"""
from .extract import ExtractConfig, ExtractSummary, extract_video, find_videos, problems, run_extract

__all__ = ["ExtractConfig", "ExtractSummary", "extract_video", "find_videos", "problems", "run_extract"]
