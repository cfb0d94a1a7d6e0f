"""Bring your own model: the adapter contract that lets any PyTorch module run through the suite.

A model outside the zoo is named by its import path, ``"pkg.module:factory"`` (``--model pkg.module:factory``).
Everything that builds a model by name (``zoo.create_model``, ``zoo.get_spec``, stage-3 fine-tuning, the
multi-view test, the probe protocol) goes through this module for such a name.

The contract
    factory(num_classes: int, **kw) -> torch.nn.Module

    * ``num_classes``: head size (class count, or the number of regression targets); 0 means "features only"
      (the probe protocol): ``forward`` is then not called.
    * optional keywords, passed only when the factory's signature accepts them: ``weights`` (a local file path,
      resolved from ``--weights``: a path or ``hf:<repo>:<file>``; a factory without it refuses --weights) and
      ``drop_path_rate`` (stage 3's ``drop_path``).
    * the module's ``forward(video, audio)`` returns logits ``(B, num_classes)`` (or regression outputs
      ``(B, num_targets)``), and ``forward_features(video, audio)`` returns ``(B, F)`` clip features.
      video: ``(B, 3, T, H, W)`` float, normalised with the contract's mean/std; audio: ``(B, 1, target_length,
      num_mel_bins)`` log-mel fbank normalised as ``(x - fbank_mean) / (2 * fbank_std)``. An absent modality
      arrives as a constant (silent fbank / mean-colour frames), as for the zoo models.
    * the factory carries its input contract (``avfmae.zoo.InputContract``: frames, frame stride, image size,
      mean/std, sample rate, mel bins, fbank frames, fbank statistics, test segments x crops), set with the
      ``@adapter(InputContract(...))`` decorator (or as the attribute ``factory.input_contract``).
    * layer-wise lr decay (stage-3 ``layer_decay``) applies only when the module exposes ``num_layers: int`` and
      ``layer_id(param_name) -> int`` (0: embeddings ... num_layers + 1: head, as BEiT/timm); otherwise it is off
      (all parameters at the base lr) and stage 3 says so in its log.

Identity: the run key records the import path and the sha256 of the module's source file (plus the files of the
modules listed in ``@adapter(..., sources=("pkg.other",))``) and of the weights, so a changed source makes new
run keys. Stage 1/2 pre-training and ``arch.*`` changes are AVF-MAE++ only.

Importability: the module must import in every process that runs a job (local subprocesses, SLURM workers):
install its package or put its root on ``PYTHONPATH`` before submitting (jobs inherit the environment).
"""
from __future__ import annotations

import dataclasses
import hashlib
import importlib
import inspect
import re
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from .spec import InputContract, ModelSpec

FAMILY = "adapter"
_REF = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$")


class AdapterError(ValueError):
    """A `pkg.module:factory` model that cannot be imported or breaks the adapter contract."""


def is_adapter_ref(name: str) -> bool:
    """Whether a model name is an import path ("pkg.module:factory") rather than a zoo name."""
    return ":" in str(name) and not str(name).startswith("hf:")


def adapter(input_contract: InputContract, sources: tuple[str, ...] = ()) -> Callable:
    """Decorator: attach the input contract (and extra source modules for the run identity) to a factory."""
    if not isinstance(input_contract, InputContract):
        raise AdapterError(f"@adapter needs an avfmae.zoo.InputContract, not {type(input_contract).__name__}")

    def mark(factory):
        factory.input_contract = input_contract
        factory.avfmae_sources = tuple(sources)
        return factory
    return mark


@dataclass(frozen=True)
class Adapter:
    ref: str                      # "pkg.module:factory"
    factory: Callable
    input: InputContract
    source_sha256: str            # sha256 over the module's source file (and the declared extra sources)
    files: tuple[str, ...]        # the hashed files

    def identity(self) -> dict:
        """What the run identity records about the model (no paths: they differ between machines)."""
        return {"ref": self.ref, "source_sha256": self.source_sha256, "input": dataclasses.asdict(self.input)}

    def spec(self) -> ModelSpec:
        doc = (inspect.getdoc(self.factory) or "").strip().splitlines()
        return ModelSpec(name=self.ref, family=FAMILY, arch=None, input=self.input,
                         description=doc[0] if doc else f"adapter {self.ref}")


def _where(exc: BaseException, files: tuple[str, ...] = ()) -> str:
    """' (file:line)' of where `exc` was raised: the deepest frame in one of `files` (the model's own source),
    else the deepest frame outside importlib's frozen modules; '' when there is none."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith("<frozen")]
    own = [f for f in frames if f.filename in files]
    frame = (own or frames or [None])[-1]
    return f" ({frame.filename}:{frame.lineno})" if frame is not None else ""


def _import(module_name: str, ref: str):
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name and (module_name == e.name or module_name.startswith(e.name + ".")):
            raise AdapterError(
                f"model {ref!r}: cannot import module {module_name!r} ({e}). Install its package or put the folder "
                f"that contains it on PYTHONPATH (every executor's jobs inherit it: export PYTHONPATH=/path/to/"
                f"root:$PYTHONPATH before running); python's search path here: {sys.path[:4]}...") from None
        raise AdapterError(f"model {ref!r}: module {module_name!r} was found, but importing it failed{_where(e)}: "
                           f"{e}. Install {e.name!r} in this environment (and wherever its jobs run)") from None
    except SyntaxError as e:
        raise AdapterError(f"model {ref!r}: {e.filename}:{e.lineno}: syntax error ({e.msg}); fix the module "
                           f"{module_name!r}") from None
    except Exception as e:      # the module's own code failed at import time
        raise AdapterError(f"model {ref!r}: importing module {module_name!r} raised {type(e).__name__}: {e}"
                           f"{_where(e)}; fix the module") from None


def _source_file(module, ref: str) -> Path:
    path = getattr(module, "__file__", None)
    if not path or not Path(path).is_file():
        raise AdapterError(f"model {ref!r}: module {module.__name__!r} has no source file; define the factory in "
                           "an importable .py file (not __main__ or a notebook) so its source can be hashed")
    return Path(path)


def validate_contract(c: InputContract, ref: str) -> None:
    """Every field of an input contract within range; AdapterError naming the field otherwise."""
    def bad(field: str, why: str):
        raise AdapterError(f"model {ref!r}: input contract {field}={getattr(c, field)!r} {why}")

    for f in ("num_frames", "frame_stride", "img_size", "sample_rate", "num_mel_bins", "target_length",
              "test_segments", "test_crops"):
        v = getattr(c, f)
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            bad(f, "must be a whole number >= 1")
    for f in ("mean", "std"):
        v = getattr(c, f)
        if len(tuple(v)) != 3 or not all(isinstance(x, (int, float)) for x in v):
            bad(f, "must be three numbers (R, G, B)")
    if any(x <= 0 for x in c.std) or c.fbank_std <= 0:
        bad("std" if any(x <= 0 for x in c.std) else "fbank_std", "must be > 0")


def load_adapter(ref: str) -> Adapter:
    """Import `pkg.module:factory`, check it is a factory with a valid input contract, hash its source."""
    if not _REF.match(str(ref)):
        raise AdapterError(f"model {ref!r}: write a model of your own as 'package.module:factory' (a module path, "
                           "a colon, a function name)")
    module_name, attr = ref.split(":")
    module = _import(module_name, ref)
    factory = getattr(module, attr, None)
    if factory is None or not callable(factory):
        found = sorted(n for n, v in vars(module).items() if callable(getattr(v, "input_contract", None)) or
                       isinstance(getattr(v, "input_contract", None), InputContract))
        raise AdapterError(f"model {ref!r}: {module_name} has no callable {attr!r}"
                           + (f"; factories there: {', '.join(found)}" if found else ""))
    contract = getattr(factory, "input_contract", None)
    if not isinstance(contract, InputContract):
        raise AdapterError(f"model {ref!r}: the factory declares no input contract; decorate it with "
                           "@avfmae.zoo.adapter(InputContract(num_frames=..., img_size=..., ...)) or set "
                           f"{attr}.input_contract = InputContract(...)")
    validate_contract(contract, ref)
    files = [_source_file(module, ref)]
    for extra in getattr(factory, "avfmae_sources", ()) or ():
        files.append(_source_file(_import(extra, ref), ref))
    h = hashlib.sha256()
    for f in files:
        h.update(f.read_bytes())
    return Adapter(ref, factory, contract, h.hexdigest(), tuple(str(f) for f in files))


def dummy_batch(c: InputContract, batch: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch shaped as the data pipeline feeds the model (seeded locally: the global RNG is left alone)."""
    g = torch.Generator().manual_seed(0)
    video = torch.randn(batch, 3, c.num_frames, c.img_size, c.img_size, generator=g)
    audio = torch.randn(batch, 1, c.target_length, c.num_mel_bins, generator=g)
    return video, audio


def check_module(model: torch.nn.Module, ref: str, c: InputContract, num_outputs: int) -> int:
    """Run one dummy batch through `model`: forward -> (B, num_outputs) (unless num_outputs is 0) and
    forward_features -> (B, F). Returns F; AdapterError saying what came back otherwise."""
    if not isinstance(model, torch.nn.Module):
        raise AdapterError(f"model {ref!r}: the factory returned {type(model).__name__}, not a torch.nn.Module")
    if not callable(getattr(model, "forward_features", None)):
        raise AdapterError(f"model {ref!r}: {type(model).__name__} has no forward_features(video, audio) method "
                           "(the probe protocol needs (B, F) clip features)")
    video, audio = dummy_batch(c)
    shapes = f"video {tuple(video.shape)}, audio {tuple(audio.shape)}"
    was_training = model.training
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    model.eval()
    try:
        with torch.no_grad():
            checks = [("forward_features", model.forward_features, None)]
            if num_outputs:
                checks.append(("forward", model, num_outputs))
            dims = {}
            for name, fn, want in checks:
                try:
                    out = fn(video.to(device), audio.to(device))
                except Exception as e:
                    files = (getattr(inspect.getmodule(type(model)), "__file__", None) or "",)
                    raise AdapterError(f"model {ref!r}: {name}({shapes}) failed{_where(e, files)}: "
                                       f"{type(e).__name__}: {e}. The input contract says what the data pipeline "
                                       "feeds") from None
                ok = isinstance(out, torch.Tensor) and out.dim() == 2 and out.shape[0] == video.shape[0] and \
                    (want is None or out.shape[1] == want) and out.is_floating_point()
                if not ok:
                    got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
                    raise AdapterError(f"model {ref!r}: {name}({shapes}) returned {got}; expected a float tensor "
                                       f"(2, {want if want is not None else 'F'})")
                if not torch.isfinite(out).all():
                    raise AdapterError(f"model {ref!r}: {name}({shapes}) returned non-finite values")
                dims[name] = out.shape[1]
    finally:
        model.train(was_training)
    return int(dims["forward_features"])


def create(ref: str, num_classes: int | None = None, weights=None, reset_head: bool = False,
           **overrides) -> torch.nn.Module:
    """Build an adapter model (zoo.create_model's path for a "pkg.module:factory" name) and check it on one
    dummy batch. `weights` (a path or hf:<repo>:<file>) reaches the factory as a local path."""
    from . import weights as weights_mod

    a = load_adapter(ref)
    params = inspect.signature(a.factory).parameters
    takes_all = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    kwargs = {k: v for k, v in overrides.items() if takes_all or k in params}
    sha = None
    if weights is not None:
        if not (takes_all or "weights" in params):
            raise AdapterError(f"model {ref!r}: weights {str(weights)!r} given, but the factory takes no `weights` "
                               "argument; add one (a local file path) or drop --weights")
        path, _ = weights_mod.resolve(ref, weights)
        kwargs["weights"] = str(path)
        sha = weights_mod.sha256_file(path)
    n = 0 if num_classes is None else int(num_classes)
    try:
        model = a.factory(n, **kwargs)
    except Exception as e:
        given = ", ".join([str(n), *(f"{k}={v!r}" for k, v in kwargs.items())])
        raise AdapterError(f"model {ref!r}: {ref.split(':')[1]}({given}) raised {type(e).__name__}: {e}"
                           f"{_where(e, a.files)}") from None
    check_module(model, ref, a.input, n)
    model.spec = a.spec()
    model.weights_sha256 = sha
    model.source_sha256 = a.source_sha256
    return model


__all__ = ["Adapter", "AdapterError", "FAMILY", "adapter", "check_module", "create", "dummy_batch",
           "is_adapter_ref", "load_adapter", "validate_contract"]
