"""AVF-MAE++ models: tokenisers, LG encoders, IAVCL fusion, decoders, fine-tune and pre-train models, losses.

Names are imported lazily, so `import avfmae.models.masking` does not pay for timm and the model stack.
"""
from importlib import import_module

_EXPORTS = {
    "AVFConfig": ".config", "from_official_kwargs": ".config", "to_official_kwargs": ".config",
    "AVFMAEClassifier": ".finetune", "FinetuneOutput": ".finetune",
    "AVFMAEPretrain": ".pretrain", "PretrainLosses": ".pretrain", "PretrainOutput": ".pretrain",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
