"""The `probe` protocol: a linear head on frozen, cached clip features (centre view).

Features are the fine-tune model's head input (fc_norm of the pooled IAVCL tokens), extracted once per
(weights, dataset revision, split) into `<work>/../../features/` and reused by every probe run and seed.
Classification: multinomial logistic regression; regression: ridge. Both from scikit-learn.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import torch

from avfmae.atomic import atomic_write, remove_stale

from .datasets import registry
from .runkey import RunKey


def _features(model, spec, fold: str, split: str, cache: Path, modalities) -> tuple[list, np.ndarray, np.ndarray]:
    from avfmae.data.loader import ClipDataset
    from avfmae.data.manifest import read_manifest

    if cache.is_file():
        z = np.load(cache, allow_pickle=False)
        return list(z["clips"]), z["features"], z["targets"]
    records = read_manifest(spec.split_file(fold, split))
    ds = ClipDataset(records, spec.path(), mode="eval-centre", on_error="skip")
    loader = torch.utils.data.DataLoader(ds, batch_size=8, num_workers=min(2, os.cpu_count() or 1))
    clips, feats, targets = [], [], []
    silent = None
    with torch.no_grad():
        for batch in loader:
            video, audio = batch["video"][:, 0], batch["audio"][:, 0]   # (B, views=1, ...) -> centre view
            if "audio" not in modalities:
                from avfmae.train.data import preprocess_config, silent_fbank_value
                silent = silent if silent is not None else silent_fbank_value(preprocess_config(model.spec))
                audio = torch.full_like(audio, silent)
            feats.append(model.forward_features(video, audio).numpy())
            targets.append(batch["target"].numpy())
            clips += list(batch["clip"])
    out = (clips, np.concatenate(feats), np.concatenate(targets))
    atomic_write(cache, lambda f: np.savez(f, clips=np.array(out[0]), features=out[1], targets=out[2]))
    return out


def run_probe(key: RunKey, work: Path) -> dict:
    import zoo
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    spec = registry.get(key.dataset)
    opts = key.overrides_dict
    model = zoo.create_model(key.model, weights=opts.get("weights"), num_classes=0, reset_head=True).eval()
    ident = hashlib.sha256(f"{key.model}|{key.weights_sha}|{spec.name}@{key.dataset_revision}".encode()).hexdigest()[:16]
    cache = work.parent.parent / "features" / ident
    remove_stale(cache)  # a killed probe's half-written feature file
    train = _features(model, spec, key.fold, "train", cache / f"{key.fold}-train.npz", spec.modalities)
    test = _features(model, spec, key.fold, "test", cache / f"{key.fold}-test.npz", spec.modalities)
    if spec.regression:
        head = make_pipeline(StandardScaler(), Ridge(alpha=float(opts.get("alpha", 1.0))))
        head.fit(train[1], train[2])
        scores = head.predict(test[1])
    else:
        head = make_pipeline(StandardScaler(), LogisticRegression(C=float(opts.get("C", 1.0)), max_iter=2000,
                                                                  random_state=key.seed))
        head.fit(train[1], train[2])
        proba = head.predict_proba(test[1])
        scores = np.zeros((len(proba), spec.num_classes))
        scores[:, head.classes_] = proba
    selected = {"clips": test[0], "targets": test[2].tolist(), "probs" if not spec.regression else "outputs":
                np.asarray(scores).tolist()}
    return {"predictions": {"selected": selected}}
