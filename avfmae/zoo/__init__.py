"""The AVF-MAE++ model zoo: registered variants, their input contracts and weights.

The implementation lives here, inside `avfmae` (training exports weights tags through it, so it sits below
`avfmae.train`); the top-level `zoo` package is the public facade over this one:

    import zoo
    model = zoo.create_model("avfmae-base", num_classes=11, weights="path/to/checkpoint.pth")
    zoo.list_models()
"""
from .adapters import AdapterError, adapter, is_adapter_ref, load_adapter
from ._registry import derive, get_spec, list_models, register_family, register_model
from .checkpoint import CheckpointError, load_into, read_state_dict
from .factory import check_weights, count_params, create_model, split_name
from .spec import InputContract, ModelSpec, arch_hash
from .weights import WeightsRecord, register_weights, resolve as resolve_weights, tags_for

__all__ = ["AdapterError", "adapter", "is_adapter_ref", "load_adapter", "CheckpointError", "InputContract", "ModelSpec", "WeightsRecord", "arch_hash", "check_weights", "count_params",
           "create_model", "derive", "get_spec", "list_models", "load_into", "read_state_dict", "register_family",
           "register_model", "register_weights", "resolve_weights", "split_name", "tags_for"]
