"""Weights sources: registered tags (local, written by training), the official release's tags (zoo.official),
local paths, and Hugging Face ids.

A tag lives in the zoo folder (`$AVF_ZOO_DIR`, default `~/.cache/avfmae/zoo`) as an entry of `tags.json`:
the file, its sha256, the ModelSpec name and architecture hash, the kind (pretrain/finetune), the class count,
and provenance (stage, config, parent weights, git sha, date). `create_model("avfmae-tiny.demo-s1")` loads the
tag `demo-s1` of model `avfmae-tiny`.

Hugging Face: `hf:<repo id>:<file in repo>` (the official release is `Conna/AVF-MAE`). The download goes through
huggingface_hub's cache; with `HF_HUB_OFFLINE=1` or no network, a file already in the cache still loads.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from avfmae.atomic import atomic_write_text, file_lock

OFFICIAL_HF_REPO = "Conna/AVF-MAE"


def zoo_dir() -> Path:
    return Path(os.environ.get("AVF_ZOO_DIR") or Path.home() / ".cache" / "avfmae" / "zoo").expanduser()


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


@dataclass(frozen=True)
class WeightsRecord:
    tag: str
    model: str
    file: str                      # path relative to the zoo folder, or absolute
    sha256: str
    arch_hash: str
    kind: str                      # "pretrain" | "finetune"
    num_classes: int = 0
    provenance: dict = field(default_factory=dict)

    def path(self) -> Path:
        p = Path(self.file)
        return p if p.is_absolute() else zoo_dir() / p


def _tags_file() -> Path:
    return zoo_dir() / "tags.json"


def load_tags() -> dict[str, WeightsRecord]:
    f = _tags_file()
    if not f.is_file():
        return {}
    try:
        raw = json.loads(f.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{f}: corrupt weights registry ({e}); fix or delete it") from None
    return {k: WeightsRecord(**v) for k, v in raw.items()}


TAG_RULE = "a non-empty name without '.' or '/' (e.g. demo-s1)"


def valid_tag(tag) -> bool:
    """A weights tag names the file <tag>.safetensors and follows the model name after one '.' (model.tag)."""
    return isinstance(tag, str) and bool(tag) and "." not in tag and "/" not in tag


def register_weights(record: WeightsRecord) -> WeightsRecord:
    """Add or replace `<model>.<tag>` in the local registry.

    The read-modify-write runs under the registry's lock (parallel jobs register tags) and the rewrite is atomic.
    """
    f = _tags_file()
    with file_lock(f.with_name(f".{f.name}.lock")):
        tags = load_tags()
        tags[f"{record.model}.{record.tag}"] = record
        atomic_write_text(f, json.dumps({k: asdict(v) for k, v in sorted(tags.items())}, indent=1))
    return record


def tags_for(model: str) -> list[WeightsRecord]:
    return [r for k, r in sorted(load_tags().items()) if r.model == model]


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def resolve(model: str, weights: str | os.PathLike) -> tuple[Path, WeightsRecord | None]:
    """A weights argument -> (local file, registry record if it was a tag)."""
    text = str(weights)
    if text.startswith("hf:"):
        return _from_hub(text), None
    tags = load_tags()
    key = text if "." in text and text.split(".", 1)[0] == model else f"{model}.{text}"
    if key in tags:
        rec = tags[key]
        path = rec.path()
        if not path.is_file():
            raise FileNotFoundError(f"weights tag {key!r} points to {path}, which is missing; re-export or "
                                    f"re-register it (registry {_tags_file()})")
        return path, rec
    from .official import OFFICIAL   # the released files known by name: tags that resolve to hf:<repo>:<file>
    if key in OFFICIAL:
        return _from_hub(OFFICIAL[key].reference), None
    path = Path(text).expanduser()
    if path.is_file():
        return path, None
    known = sorted(k for k in [*tags, *OFFICIAL] if k.startswith(model + "."))
    raise FileNotFoundError(
        f"weights {text!r} for {model}: not a registered tag (known: {known or 'none'}; registry {_tags_file()}), "
        f"not a file, and not 'hf:<repo>:<file>' (official release: hf:{OFFICIAL_HF_REPO}:<file>)")


def _from_hub(text: str) -> Path:
    parts = text[3:].split(":", 1)
    if len(parts) != 2 or not parts[1]:
        raise ValueError(f"{text!r}: write Hugging Face weights as hf:<repo id>:<file>, e.g. "
                         f"hf:{OFFICIAL_HF_REPO}:<checkpoint file>")
    repo, filename = parts
    try:
        from huggingface_hub import hf_hub_download
    except ImportError:
        raise RuntimeError("huggingface_hub is not installed; download the file yourself and pass its path") from None
    try:
        return Path(hf_hub_download(repo, filename))
    except Exception as e:  # offline, not cached, or unknown file: say which and what to do
        raise FileNotFoundError(
            f"could not get {filename!r} from {repo} ({type(e).__name__}: {e}). Offline, only files already in the "
            f"Hugging Face cache load; otherwise download it on a connected machine and pass the local path") from None
