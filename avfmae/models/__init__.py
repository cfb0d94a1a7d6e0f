"""AVF-MAE++ models: tokenisers, LG encoders, IAVCL fusion, decoders, fine-tune and pre-train models, losses."""
from .config import AVFConfig, from_official_kwargs, to_official_kwargs
from .finetune import AVFMAEClassifier, FinetuneOutput
from .pretrain import AVFMAEPretrain, PretrainLosses, PretrainOutput

__all__ = ["AVFConfig", "AVFMAEClassifier", "AVFMAEPretrain", "FinetuneOutput", "PretrainLosses",
           "PretrainOutput", "from_official_kwargs", "to_official_kwargs"]
