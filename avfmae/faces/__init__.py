"""Faces from raw video, as the training data were made: detection (detect.py: MTCNN where facenet-pytorch is
installed, mtcnn.py; OpenCV Haar cascades as the fallback), tracking and smoothing (track.py), square crops with
eye-line levelling (crop.py), 16 kHz mono wav extraction (audio.py), and the per-video pipeline tying them
together (pipeline.py), used by dataset extraction (`python -m benchmarks.data extract`) and by
`python -m avfmae.predict`.
"""
