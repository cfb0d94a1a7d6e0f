"""Reading checkpoints safely and loading them strictly.

Safe: safetensors, or `torch.load(..., weights_only=True)` with a few data-only types allowed besides tensors and
plain containers: argparse.Namespace (official checkpoints store their command-line args in it) and numpy
scalars, arrays and dtypes (training scripts leave numpy numbers in those args and in best-score fields). Nothing
that can run code is ever unpickled.
Strict: a missing, unexpected or mis-shaped key is an error that names it. The only tolerated differences are
the documented ones between a pre-train and a fine-tune model (decoders dropped, new head initialised).
"""
from __future__ import annotations

import argparse
import os
import pickle
import re
import zipfile
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file

WRAPPER_KEYS = ("model", "module", "state_dict", "model_state")
PRETRAIN_ONLY_PREFIXES = ("decoder.", "decoder_audio.", "encoder_to_decoder.", "encoder_to_decoder_audio.",
                          "mask_token", "mask_token_audio")
FINETUNE_ONLY_PREFIXES = ("layer_weights_video", "layer_weights_audio", "video_layer_weights",
                          "audio_layer_weights", "fc_norm.", "head.")
HEAD_PREFIXES = ("head.",)


class CheckpointError(ValueError):
    pass


def _safe_globals() -> list:
    """The types torch.load(weights_only=True) may rebuild besides tensors and plain containers: data only."""
    import numpy as np

    multiarray = (getattr(np, "_core", None) or np.core).multiarray    # numpy >= 2 moved it to _core
    dtypes = [t for t in vars(np.dtypes).values() if isinstance(t, type) and issubclass(t, np.dtype)]
    # files written under numpy 1 name numpy.core.multiarray; under numpy 2, numpy._core.multiarray
    renamed = [(fn, f"numpy.{core}.multiarray.{fn.__name__}") for fn in (multiarray.scalar, multiarray._reconstruct)
               for core in ("core", "_core")]
    return [argparse.Namespace, *renamed, np.ndarray, np.dtype, *dtypes]


_FIX = "Re-download it, or re-export / re-register the weights (a copy cut short by a full disk or a kill?)"


def check_file(path: str | os.PathLike) -> Path:
    """Fast sanity check of a checkpoint file before any long work: it exists and its container is whole.

    .safetensors: the header parses and the data section has the size the header promises. .pth/.pt/.bin in
    torch's zip format: the zip directory at the file's end is there. Raises CheckpointError naming the path.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint file not found")
    if path.suffix == ".safetensors":
        _safetensors_meta(path)
        return path
    try:
        with open(path, "rb") as f:
            head = f.read(4)
        if head[:2] == b"PK":
            with zipfile.ZipFile(path) as z:
                z.infolist()
        elif not head:
            raise CheckpointError(f"{path}: empty checkpoint file. {_FIX}")
    except (OSError, zipfile.BadZipFile) as e:
        raise CheckpointError(f"{path}: not a readable torch checkpoint (truncated or corrupt: {e}). {_FIX}") from None
    return path


def _safetensors_meta(path: Path) -> dict:
    try:
        with safe_open(str(path), framework="pt") as f:
            return dict(f.metadata() or {})
    except Exception as e:  # safetensors raises its own SafetensorError (not a subclass of anything of ours)
        raise CheckpointError(f"{path}: not a readable safetensors file (truncated or corrupt: "
                              f"{type(e).__name__}: {e}). {_FIX}") from None


def _refused_global(e: Exception) -> str:
    """What torch's weights-only unpickler refused, e.g. 'posix.system', from its long message (which also
    suggests weights_only=False or allow-listing the global, neither of which this project does)."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(e))
    m = re.search(r"unsupported (?:global: )?GLOBAL ([\w.]+)", text, re.IGNORECASE)
    if m:
        return m[1]
    line = next((ln.strip() for ln in text.splitlines() if "WeightsUnpickler" in ln or "GLOBAL" in ln), "")
    return line[:200] or "not data"


def read_state_dict(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """(state dict, metadata) from a .safetensors or a .pth/.pt/.bin file, unwrapping `model`/`module`."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint file not found")
    if path.suffix == ".safetensors":
        meta = _safetensors_meta(path)
        try:
            return load_file(str(path)), meta
        except Exception as e:
            raise CheckpointError(f"{path}: not a readable safetensors file ({type(e).__name__}: {e}). "
                                  f"{_FIX}") from None
    try:
        with torch.serialization.safe_globals(_safe_globals()):
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        raise CheckpointError(
            f"{path}: refused to unpickle it: it holds objects other than tensors and plain containers "
            f"({_refused_global(e)}), and loading those can run code. Load it once in a trusted environment and "
            "save `model.state_dict()` as safetensors.") from None
    except (RuntimeError, EOFError, OSError, ValueError) as e:
        raise CheckpointError(f"{path}: not a readable torch checkpoint (truncated or corrupt?): {e}. {_FIX}") from None
    if isinstance(obj, dict):
        for key in WRAPPER_KEYS:
            if key in obj and isinstance(obj[key], dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(f"{path}: no state dict found (expected tensors, or one under {WRAPPER_KEYS})")
    return {k.removeprefix("module."): v for k, v in obj.items()}, {}


def load_into(model: torch.nn.Module, state: dict[str, torch.Tensor], *, source: str = "checkpoint",
              reset_head: bool = False) -> dict[str, list[str]]:
    """Strict load with the pre-train <-> fine-tune allowances. Returns what was skipped and what kept its init.

    - keys only a pre-train model has (decoders, projections, mask tokens) are dropped when loading into a
      fine-tune model; fine-tune-only keys (layer weights, fc_norm, head) keep their fresh init when absent;
    - `reset_head`: a head of a different class count (or any head, for a headless model) is dropped instead of
      an error: stage 3 from a stage-2 model, or features for a linear probe.
    """
    own = model.state_dict()
    state = dict(state)
    dropped = check_fit({k: tuple(v.shape) for k, v in own.items()}, {k: tuple(v.shape) for k, v in state.items()},
                        source=source, model_class=type(model).__name__, reset_head=reset_head)
    for key in dropped:
        state.pop(key)
    kept_init = [k for k in own if k not in state]
    model.load_state_dict(state, strict=False)
    return {"dropped": dropped, "kept_init": kept_init}


def check_fit(own: dict[str, tuple], state: dict[str, tuple], *, source: str = "checkpoint", model_class: str = "",
              reset_head: bool = False) -> list[str]:
    """`load_into`'s rules on key names and shapes alone (model and checkpoint as {key: shape}), so a file can be
    checked against a model built on the meta device, before any work. Returns the checkpoint keys to drop;
    raises CheckpointError naming the missing, unexpected and mis-shaped keys."""
    is_finetune = any(k.startswith(FINETUNE_ONLY_PREFIXES) for k in own)
    dropped = []
    state = dict(state)
    for key in list(state):
        if key not in own and ((is_finetune and key.startswith(PRETRAIN_ONLY_PREFIXES))
                               or (reset_head and key.startswith(HEAD_PREFIXES))):
            state.pop(key)
            dropped.append(key)
    unexpected = [k for k in state if k not in own]
    missing = [k for k in own if k not in state and not (is_finetune and k.startswith(FINETUNE_ONLY_PREFIXES))]
    mismatched = []
    for key in list(state):
        if key in own and tuple(state[key]) != tuple(own[key]):
            if reset_head and key.startswith(HEAD_PREFIXES):
                state.pop(key)
                dropped.append(key)
            else:
                mismatched.append(f"{key}: checkpoint {tuple(state[key])} vs model {tuple(own[key])}")
    if unexpected or missing or mismatched:
        lines = [f"{source} does not fit {model_class or 'the model'}:"]
        if missing:
            lines.append(f"  missing ({len(missing)}): {missing[:8]}{' ...' if len(missing) > 8 else ''}")
        if unexpected:
            lines.append(f"  unexpected ({len(unexpected)}): {unexpected[:8]}{' ...' if len(unexpected) > 8 else ''}")
        if mismatched:
            lines.append(f"  wrong shape ({len(mismatched)}): {mismatched[:8]}")
        if any(m.startswith("head.") for m in mismatched):
            lines.append("  (a different class count: pass num_classes to match, or reset_head=True to start a new head)")
        raise CheckpointError("\n".join(lines))
    return dropped


def state_shapes(path: str | os.PathLike) -> tuple[dict[str, tuple], dict[str, str]]:
    """({key: shape}, metadata) of a checkpoint; for safetensors only the header is read."""
    path = Path(path)
    if path.suffix == ".safetensors":
        meta = _safetensors_meta(path)
        with safe_open(str(path), framework="pt") as f:
            return {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}, meta
    state, meta = read_state_dict(path)
    return {k: tuple(v.shape) for k, v in state.items()}, meta


def head_outputs(path: str | os.PathLike) -> int | None:
    """The number of outputs (classes, or regression targets) of a checkpoint's task head (`head.weight`), or
    None when it has none (a pre-trained model, a backbone). For safetensors only the header is read."""
    head = state_shapes(path)[0].get("head.weight")   # a corrupt file is named as such
    return int(head[0]) if head is not None else None
