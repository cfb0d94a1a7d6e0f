"""Dataset extraction glue behind `python -m benchmarks.data extract`: raw videos -> face-crop frame folders,
16 kHz wavs, done-markers and a problem report, resumable and in parallel.

    from benchmarks.prep import ExtractConfig, run_extract
    summary = run_extract("raw/", "prepared/", ExtractConfig(size=224, fps=25), workers=2)

The face pipeline itself (detection: MTCNN where facenet-pytorch is installed, else OpenCV Haar; tracking;
cropping; wav extraction) lives in avfmae.faces, shared with `python -m avfmae.predict`.
`fetch_test_media.sh` fetches the real test footage (Megamind.avi).
"""
from .extract import ExtractConfig, ExtractSummary, extract_video, find_videos, problems, run_extract

__all__ = ["ExtractConfig", "ExtractSummary", "extract_video", "find_videos", "problems", "run_extract"]
