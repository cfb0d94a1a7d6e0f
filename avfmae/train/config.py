"""Frozen configs of the three training stages, their presets, and `key=value` overrides.

    cfg = stage_config("stage3", "paper", model="avfmae-base", train="mafw-11/splits/fold1/train.tsv",
                       test="mafw-11/splits/fold1/test.tsv|classes=11")
    cfg = apply_overrides(cfg, ["epochs=10", "blr=5e-4", "modalities=video"])

Presets
    "paper"      the official scripts' numbers for base / large / huge (spec sections 2.1, 2.2). Stage 1: AdamW
                 (0.9, 0.95), base lr 3e-4 (2e-4 for huge) x global batch / 256, warm-up then per-step cosine to
                 1e-5 x scale, weight decay 0.05, per-GPU batch 164 / 150 / 100 on 8 GPUs. Stage 3: the public
                 fine-tune scripts (base lr 1e-3, batch 40 x 4 GPUs, 100 epochs, 5 warm-up, layer decay 0.75, drop
                 path 0.1, smoothing 0.1, mixup 0.8 / CutMix 1.0, 2 x 2 test views).
    "paper-psi"  stage 3 started from a stage-2 model: as "paper" with the ~10x lower peak lr the published huge
                 logs show (5.625e-5 at the scale-1 group: base lr 9e-5 at a global batch of 160).
    "cpu"        small batches and few epochs, cached views, no AMP: runs on a laptop CPU with avfmae-tiny /
                 avfmae-small (full input geometry) or avfmae-micro (the reduced-geometry demo model). Crops are
                 gentle (random resized crop area 0.85-1): with the paper's 0.08-1, or even 0.5-1, a micro model
                 trained for a few hundred steps never finds the face's expression (measured: 34 % held-out
                 valence, chance 33, against 82 % at 0.85-1; docs/training.md).

Data sources are strings (so a config stays flat, hashable and JSON-serialisable); see
`avfmae.train.sources.parse_source`:
    "path/to/split.tsv[@ROOT]"      a manifest (ROOT defaults to the folder above splits/<fold>/, else its folder)
    + "|name=N|map=0,0,1,1|weight=2"    stage-2 options: head name, label map, sampling weight
    + "|classes=K" / "|regression=1"    the class count of the label space / regression targets
The benchmark suite turns its dataset names into such sources (DatasetSpec.split_source); avfmae knows no names.
"""
from __future__ import annotations

import ast
import dataclasses
import json
import typing
from dataclasses import dataclass, fields

from ..fieldcheck import check_fields, lists_to_tuples
from .domains import RULES

PAPER_SIZES = ("avfmae-base", "avfmae-large", "avfmae-huge")
MODALITIES = ("video", "audio")
MODALITY_ALIASES = {"av": MODALITIES, "audio-visual": MODALITIES, "audiovisual": MODALITIES, "both": MODALITIES,
                    "v": ("video",), "video-only": ("video",), "a": ("audio",), "audio-only": ("audio",)}


@dataclass(frozen=True)
class CommonConfig:
    """Knobs every stage has. Learning rates are BASE rates: lr = blr * global_batch / 256 (as the official code).

    global_batch = batch_size (per process) x accum_steps x world size."""

    model: str = "avfmae-base"           # zoo name (no weights tag: use `init` for weights)
    init: str | None = None              # weights to start from: zoo tag, local file or hf:<repo>:<file>
    seed: int = 0
    epochs: int = 100
    max_steps: int = 0                   # > 0: stop after this many optimiser steps (smoke runs; schedule unchanged)
    batch_size: int = 40                 # per process
    accum_steps: int = 1                 # gradient accumulation (micro-batches per optimiser step)
    blr: float = 1e-3
    min_lr: float = 1e-6                 # base min lr (scaled like blr)
    warmup_epochs: float = 5.0
    warmup_steps: int = -1               # >= 0 overrides warmup_epochs
    weight_decay: float = 0.05
    betas: tuple = (0.9, 0.999)
    eps: float = 1e-8
    layer_decay: float = 1.0             # 1.0 = off
    clip_grad: float | None = None
    amp: str = "auto"                    # auto (bf16 on GPU, off on CPU) | bf16 | fp16 (with loss scaling) | off
    drop_path: float = 0.1
    modalities: tuple = MODALITIES       # ("video", "audio") | ("video",) | ("audio",): see avfmae.train.inputs
    device: str = "auto"                 # auto | cpu | cuda | cuda:N
    threads: int = 0                     # torch intra-op threads per process (0: torch's default)
    dist_timeout_s: int = 1800           # data-parallel runs: rendezvous and collective timeout (a lost rank)
    num_workers: int = 2                 # DataLoader workers (0: load in the training process)
    cache: bool = False                  # decode each clip's views once into a tensor cache file
    cache_dir: str | None = None         # default <work_dir>/cache
    train_windows: int = 4               # with cache: temporal windows cached per training clip (one drawn per step)
    on_error: str = "raise"              # bad clips: raise | skip
    checkpoint_every: int = 500          # optimiser steps between checkpoints (0: only at epoch ends and the end)
    resume: str = "auto"                 # auto (resume if a checkpoint exists) | never | require
    log_every: int = 10                  # optimiser steps between log rows (log.csv, TensorBoard, progress bar)
    tensorboard: bool = True             # also write TensorBoard events when the tensorboard package is installed
    progress: bool = True
    export_tag: str | None = None        # register the final weights as <model>.<export_tag> in the zoo
    release_memory: bool = False         # after each optimiser step, return the allocator's free pages to the OS
    #                                      (lower peak RSS, ~30 ms per base-size CPU step; avfmae.train.allocator)
    stage: typing.ClassVar[str] = ""

    def __post_init__(self):
        mods = self.modalities
        if isinstance(mods, str):
            mods = (mods,)
        if len(mods) == 1 and mods[0] in MODALITY_ALIASES:
            object.__setattr__(self, "modalities", MODALITY_ALIASES[mods[0]])
        else:
            object.__setattr__(self, "modalities", tuple(mods))
        mods = tuple(self.modalities)
        if not mods or any(m not in MODALITIES for m in mods) or len(set(mods)) != len(mods):
            raise ValueError(f"modalities must be a non-empty subset of {MODALITIES}, not {self.modalities!r}")
        if "." in self.model and ":" not in self.model:   # "pkg.module:factory" is a model of your own
            raise ValueError(f"model {self.model!r}: give the plain zoo name and the weights as init=<tag or path>")
        lists_to_tuples(self)
        check_fields(self, RULES, self.stage or type(self).__name__)

    # ------------------------------------------------------------------------------------------------ helpers
    def replace(self, **changes):
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["stage"] = self.stage
        return d

    @classmethod
    def from_dict(cls, d: dict):
        names = {f.name for f in fields(cls)}
        d = {k: v for k, v in d.items() if k != "stage"}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown {cls.__name__} fields: {sorted(unknown)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)


@dataclass(frozen=True)
class Stage1Config(CommonConfig):
    """Self-supervised audio-visual pre-training (dual masking, reconstruction + hierarchical contrastive loss).

    Mask ratios, the contrastive weight and temperature are architecture fields of the model (AVFConfig)."""

    data: tuple = ()                     # unlabelled sources (labels in the manifests are ignored)
    eval_data: tuple = ()                # held-out sources: reconstruction loss on fixed masks, centre views
    eval_every: int = 1                  # epochs between held-out evaluations (0: only before and after training)
    epochs: int = 200
    batch_size: int = 164
    blr: float = 3e-4
    min_lr: float = 1e-5
    betas: tuple = (0.9, 0.95)
    drop_path: float = 0.0
    gain: bool = True                    # the official random audio gain Beta(10,10)+0.5
    multiscale_crop: bool = True         # the official GroupMultiScaleCrop (scales 1, .875, .75, .66)
    # Memory options (same numbers; docs/training.md "Speed and memory" has the measured peaks). Off by default:
    # checkpointing recomputes each block's forward in backward (slower), and the in-backward AdamW steps each
    # parameter as its gradient completes, so it cannot accumulate, clip, scale fp16 losses or run under DDP.
    grad_checkpointing: bool = False     # recompute encoder/decoder block activations in backward
    optimizer_in_backward: bool = False  # AdamW stepped inside backward: whole-model gradients never coexist
    stage: typing.ClassVar[str] = "stage1"

    def __post_init__(self):
        super().__post_init__()
        if tuple(self.modalities) != MODALITIES:
            raise ValueError("stage 1 reconstructs both modalities: modalities must be ('video', 'audio')")
        if self.optimizer_in_backward and (self.accum_steps > 1 or self.clip_grad or self.amp == "fp16"):
            raise ValueError("optimizer_in_backward steps each parameter inside backward: it does not go with "
                             "accum_steps > 1, clip_grad or amp=fp16 (turn those off, or the option)")


@dataclass(frozen=True)
class _Supervised(CommonConfig):
    """What stages 2 and 3 share: layer decay, augmentation, label smoothing, mixup / CutMix."""

    layer_decay: float = 0.75
    smoothing: float = 0.1
    mixup: float = 0.8
    cutmix: float = 1.0
    mixup_prob: float = 1.0
    mixup_switch_prob: float = 0.5
    mix_audio: bool = False              # official: audio is not mixed while labels are
    rand_augment: str | None = "rand-m7-n4-mstd0.5-inc1"
    rrc_scale: tuple = (0.08, 1.0)       # random resized crop area range
    hflip: float = 0.5
    reprob: float = 0.25                 # random erasing probability
    gain: bool = True                    # random audio gain during training
    freqm: int = 0                       # SpecAugment (official: off)
    timem: int = 0


    def __post_init__(self):
        super().__post_init__()
        if self.rand_augment is not None:
            from ..data.augment import check_rand_augment

            check_rand_augment(self.rand_augment)

@dataclass(frozen=True)
class Stage2Config(_Supervised):
    """Progressive semantic injection, the "hybrid intermediate" stage: supervised training on a mix of labelled
    sets with different label spaces, from a stage-1 model. See docs/training.md for the recipe and its reasons.

    label_mode "heads": one head per source (named by the source's `name`), batches drawn from one source at a time;
    label_mode "shared": every source's labels mapped (`map=`) into one space of `shared_classes` classes, one head,
    mixed batches."""

    data: tuple = ()
    label_mode: str = "heads"
    shared_classes: int = 0
    sampling: str = "proportional"       # per-step source choice in "heads" mode: proportional (to size) | uniform
    epochs: int = 30
    export_head: bool = False            # "shared" mode: export the shared head with the backbone
    stage: typing.ClassVar[str] = "stage2"

    def __post_init__(self):
        super().__post_init__()
        if self.label_mode == "shared" and self.shared_classes < 1:
            raise ValueError("label_mode='shared' needs shared_classes (the size of the mapped label space)")


@dataclass(frozen=True)
class Stage3Config(_Supervised):
    """Targeted fine-tuning on one dataset and fold; multi-view test of the selected and the last model.

    selection: "test" (the official protocol: the best epoch on the test split, centre view), "val" (the best epoch
    on `val`, or on `val_fraction` of the training subjects carved out when `val` is not given), "last"."""

    train: str = ""
    test: str = ""
    val: str | None = None
    num_classes: int = 0                 # 0: from the dataset spec, else 1 + the largest training label
    task: str = "classification"         # classification | regression
    loss: str = "auto"                   # auto (ce / mse) | ce | mse | ccc | l1
    head_activation: str | None = None   # regression head: None | sigmoid | tanh | relu
    selection: str = "test"
    val_metric: str = "auto"             # auto: war (the official acc1) for classification, ccc for regression
    val_fraction: float = 0.2
    eval_every: int = 1                  # epochs between validations (the last epoch is always validated)
    test_segments: int = 0               # 0: the model's input contract (2 temporal x 2 spatial)
    test_crops: int = 0
    stage: typing.ClassVar[str] = "stage3"

    def __post_init__(self):
        super().__post_init__()
        if self.task == "regression" and self.loss == "ce":
            raise ValueError("a regression task cannot use the ce loss")
        if self.task == "classification" and self.loss in ("mse", "ccc", "l1"):
            raise ValueError(f"a classification task cannot use the {self.loss} loss")
        if self.val_metric != "auto":
            from avfmae import metrics
            kind = metrics.get(self.val_metric).kind   # raises naming the known metrics
            if kind != self.task:
                raise ValueError(f"val_metric {self.val_metric!r} is a {kind} metric; this is a {self.task} task")

    @property
    def loss_name(self) -> str:
        if self.loss != "auto":
            return self.loss
        return "ce" if self.task == "classification" else "mse"

    @property
    def metric_name(self) -> str:
        if self.val_metric != "auto":
            return self.val_metric
        return "war" if self.task == "classification" else "ccc"


CONFIGS = {"stage1": Stage1Config, "stage2": Stage2Config, "stage3": Stage3Config}

# ------------------------------------------------------------------------------------------------------ presets
# Stage 1 per size (spec 2.1): base lr, per-GPU batch, GPUs, epochs, warm-up. Base: `...109w-final-model-817`;
# large: `...825`; huge: `...831-new` (its `-ultra` twin adds clip_grad 0.7).
_S1_PAPER = {
    "avfmae-base": dict(blr=3e-4, batch_size=164, epochs=200, warmup_epochs=5),
    "avfmae-large": dict(blr=3e-4, batch_size=150, epochs=100, warmup_epochs=5),
    "avfmae-huge": dict(blr=2e-4, batch_size=100, epochs=100, warmup_epochs=10),
}
PAPER_GPUS = {"stage1": 8, "stage2": 4, "stage3": 4}


def _paper(stage: str, model: str) -> dict:
    if ":" in model and stage != "stage1":   # a model of your own (avfmae.zoo.adapters): the fine-tune recipe
        pass
    elif model not in PAPER_SIZES:
        raise ValueError(f"the paper presets exist for {PAPER_SIZES}, not {model!r} (use the cpu preset)")
    if stage == "stage1":
        return dict(model=model, min_lr=1e-5, weight_decay=0.05, betas=(0.9, 0.95), drop_path=0.0, amp="auto",
                    checkpoint_every=2000, num_workers=10, **_S1_PAPER[model])
    common = dict(model=model, batch_size=40, blr=1e-3, min_lr=1e-6, warmup_epochs=5, weight_decay=0.05,
                  betas=(0.9, 0.999), layer_decay=0.75, drop_path=0.1, smoothing=0.1, mixup=0.8, cutmix=1.0,
                  amp="auto", num_workers=8, checkpoint_every=1000)
    if stage == "stage2":
        return dict(common, epochs=30)
    return dict(common, epochs=100)


def _cpu(stage: str, model: str) -> dict:
    base = dict(model=model, amp="off", device="cpu", threads=1, num_workers=0, cache=True, checkpoint_every=50,
                log_every=5)
    if stage == "stage1":
        return dict(base, epochs=8, batch_size=16, blr=2.4e-2, min_lr=1e-4, warmup_epochs=1, betas=(0.9, 0.95),
                    drop_path=0.0)
    common = dict(base, batch_size=16, blr=2.4e-2, min_lr=1e-4, warmup_epochs=1, layer_decay=0.75, drop_path=0.1,
                  smoothing=0.1, mixup=0.2, cutmix=0.2, mixup_prob=0.5, rand_augment=None, reprob=0.0,
                  rrc_scale=(0.85, 1.0))
    if stage == "stage2":
        return dict(common, epochs=4)
    return dict(common, epochs=8)


def stage_config(stage: str, preset: str = "paper", model: str | None = None, **overrides):
    """The preset config of a stage for a model, with field overrides."""
    if stage not in CONFIGS:
        raise ValueError(f"unknown stage {stage!r}; stages: {', '.join(CONFIGS)}")
    cls = CONFIGS[stage]
    model = model or ("avfmae-base" if preset.startswith("paper") else "avfmae-micro")
    if preset == "paper":
        values = _paper(stage, model)
    elif preset == "paper-psi":
        if stage != "stage3":
            raise ValueError("the paper-psi preset is the stage-3 recipe after stage 2")
        values = dict(_paper(stage, model), blr=9e-5)
    elif preset == "cpu":
        values = _cpu(stage, model)
    elif preset == "none":
        values = dict(model=model)
    else:
        raise ValueError(f"unknown preset {preset!r}; presets: paper, paper-psi, cpu, none")
    values.update(overrides)
    return cls(**values)


# ---------------------------------------------------------------------------------------------------- overrides
def _parse_value(text: str, annotation) -> object:
    ann = str(annotation)
    t = text.strip()
    if t.lower() in ("none", "null") and ("None" in ann or "Optional" in ann):
        return None
    if "bool" in ann:
        if t.lower() in ("1", "true", "yes", "on"):
            return True
        if t.lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"expected a boolean, got {text!r}")
    if "tuple" in ann:
        if t.startswith(("(", "[")):
            value = ast.literal_eval(t)
            return tuple(value)
        parts = [p for p in (s.strip() for s in t.split(";" if ";" in t or "|" in t else ",")) if p]
        out = []
        for p in parts:
            try:
                out.append(ast.literal_eval(p))
            except (ValueError, SyntaxError):
                out.append(p)
        return tuple(out)
    if ann.startswith("int") or ann == "<class 'int'>":
        return int(t)
    if "float" in ann:
        return float(t)
    return t


def apply_overrides(cfg, items) -> object:
    """cfg with `key=value` strings applied (types from the dataclass; tuples as 'a,b' or '(a, b)'; stage-2
    source lists separated by ';')."""
    types = {f.name: f.type for f in fields(cfg)}
    changes = {}
    for item in items or ():
        if "=" not in item:
            raise ValueError(f"override {item!r}: write key=value")
        key, value = item.split("=", 1)
        key = key.strip().replace("-", "_")
        if key not in types:
            close = [n for n in types if key in n or n in key]
            raise ValueError(f"unknown {type(cfg).__name__} field {key!r}" + (f"; did you mean {close}?" if close else
                             f"; fields: {', '.join(sorted(types))}"))
        try:
            changes[key] = _parse_value(value, types[key])
        except (ValueError, SyntaxError) as e:
            raise ValueError(f"override {item!r}: {e}") from None
    return cfg.replace(**changes) if changes else cfg


def describe_fields(cls) -> list[tuple[str, str, object]]:
    """(name, type, default) of every field, for --help."""
    out = []
    for f in fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else None)  # type: ignore
        out.append((f.name, str(f.type), default))
    return out


__all__ = ["CommonConfig", "Stage1Config", "Stage2Config", "Stage3Config", "CONFIGS", "PAPER_SIZES", "MODALITIES",
           "stage_config", "apply_overrides", "describe_fields"]
