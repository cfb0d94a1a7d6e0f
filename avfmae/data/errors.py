"""Exceptions for clips that cannot be turned into model inputs.

Every error names the file, what is wrong with it and what to do, so a bad clip in a 10 000-clip dataset can be
found and fixed from the log line alone.
"""
from __future__ import annotations

import os


class ClipError(ValueError):
    """A clip (video file, frame folder or wav) that cannot be read or used.

    Attributes: `path` (the offending file or folder), `problem` (what is wrong), `fix` (what to do), `kind`
    (a short machine-readable tag such as "missing", "corrupt", "empty", "no-audio", "too-short").
    """

    def __init__(self, path: str | os.PathLike, problem: str | None = None, fix: str = "",
                 kind: str = "unreadable"):
        if problem is None:  # a single message, e.g. torch DataLoader re-raising a worker's error
            super().__init__(str(path))
            self.path, self.problem, self.fix, self.kind = "", str(path), "", kind
            return
        super().__init__(f"{path}: {problem}. {fix}".rstrip())
        self.path, self.problem, self.fix, self.kind = str(path), problem, fix, kind

    def __reduce__(self):  # picklable across DataLoader worker processes
        return (type(self), (self.path, self.problem, self.fix, self.kind))


class VideoError(ClipError):
    """The video file or frame folder is missing, corrupt, truncated or has no frames."""


class AudioError(ClipError):
    """The wav (or the video's audio track) is missing, corrupt or empty."""
