"""Exceptions for clips that cannot be turned into model inputs.

Every error names the file, what is wrong with it and what to do, so a bad clip in a 10 000-clip dataset can be
found and fixed from the log line alone.
"""
from __future__ import annotations

import os


class ClipError(ValueError):
    """A clip (video file, frame folder or wav) that cannot be read or used.

    Attributes: `path` (the offending file or folder), `problem` (what is wrong), `fix` (what to do), `kind`
    (a short machine-readable tag such as "missing", "corrupt", "empty", "no-audio", "too-short"), `context`
    (which clip of which manifest line, when known: see `in_manifest`).
    """

    def __init__(self, path: str | os.PathLike, problem: str | None = None, fix: str = "",
                 kind: str = "unreadable", context: str = ""):
        lead = f"{context}: " if context else ""
        if problem is None:  # a single message, e.g. torch DataLoader re-raising a worker's error
            super().__init__(lead + str(path))
            self.path, self.problem, self.fix, self.kind, self.context = "", str(path), "", kind, context
            return
        super().__init__(f"{lead}{path}: {problem}. {fix}".rstrip())
        self.path, self.problem, self.fix, self.kind, self.context = str(path), problem, fix, kind, context

    def __reduce__(self):  # picklable across DataLoader worker processes
        return (type(self), (self.path, self.problem, self.fix, self.kind, self.context))


class VideoError(ClipError):
    """The video file or frame folder is missing, corrupt, truncated or has no frames."""


class AudioError(ClipError):
    """The wav (or the video's audio track) is missing, corrupt or empty."""


def in_manifest(exc: Exception, record) -> Exception:
    """`exc` (a ClipError, or a ManifestError from resolving a path) restated with the clip's id and its manifest
    line (`record`: a ClipRecord read from a manifest), so a log line leads to the line to fix."""
    from avfmae.data.manifest import ManifestError

    context = f"clip {record.clip!r} ({record.where})" if getattr(record, "where", "") else f"clip {record.clip!r}"
    if isinstance(exc, ClipError):
        if exc.context:
            return exc
        if not exc.path:
            return type(exc)(exc.problem, kind=exc.kind, context=context)
        return type(exc)(exc.path, exc.problem, exc.fix, exc.kind, context)
    if isinstance(exc, ManifestError) and record.manifest:
        return ManifestError(record.manifest, record.line, f"clip {record.clip!r}: {exc}", "")
    return exc
