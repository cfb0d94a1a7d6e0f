"""From a video file to emotions: `python -m avfmae.predict VIDEO... --model NAME[.TAG]`.

    from avfmae.predict import load_model, prepare_video, predict_windows
    lm = load_model("avfmae-micro.demo-s3")
    prep = prepare_video("clip.mp4", workdir)            # face crops + 16 kHz audio, as dataset extraction makes
    windows = predict_windows(lm, prep, hop=1.0)          # the model's window slid over the whole video

Modules: model (zoo model + input contract + label names), video (avfmae.faces pipeline -> crops and audio),
windows (evaluation views over the whole video -> outputs), output (JSON lines / CSV with resume, plot).
"""
from .model import LoadedModel, load_model, parse_labels
from .video import NoFaceError, PredictError, PreparedVideo, prepare_video
from .windows import Window, predict_windows, window_starts

__all__ = ["LoadedModel", "load_model", "parse_labels", "NoFaceError", "PredictError", "PreparedVideo",
           "prepare_video", "Window", "predict_windows", "window_starts"]
