"""Clip embeddings: `python -m avfmae.extract --model ... (--manifest SPLIT.tsv[@ROOT] | --videos DIR) --out DIR`.

`extract_features(model, records, root)` -> Features(ids, feats, targets, extra) is the one implementation, meant
to be shared with the probe protocol's feature cache.
"""
from .features import EXTRAS, Features, centre_config, extract_features, features_of_batch

__all__ = ["EXTRAS", "Features", "centre_config", "extract_features", "features_of_batch"]
