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
    """Features of one split's centre views: the clip set stage-3 evaluation uses (avfmae.train.clips.ClipSet,
    at the model's own input contract), the absent modalities blanked as in stage 3."""
    from avfmae.train.clips import ClipSet
    from avfmae.train.inputs import blank_modalities, preprocess_config, silent_fbank_value
    from avfmae.train.sampling import eval_batches
    from avfmae.train.sources import load_entries, parse_source

    if cache.is_file():
        z = np.load(cache, allow_pickle=False)
        return list(z["clips"]), z["features"], z["targets"]
    pcfg = preprocess_config(model.spec)
    entries = load_entries([parse_source(spec.split_source(fold, split))])
    ds = ClipSet(entries, pcfg, "centre", on_error="skip")
    silent = silent_fbank_value(pcfg)
    clips, feats, targets, seen = [], [], [], set()
    with torch.no_grad():
        for batch in eval_batches(ds, 8, num_workers=min(2, os.cpu_count() or 1)):
            video, audio = blank_modalities(batch["video"], batch["audio"], modalities, silent)
            keep = []
            for j, i in enumerate(batch["index"]):      # a skipped clip's stand-in repeats its neighbour
                if int(i) not in seen:
                    seen.add(int(i))
                    keep.append(j)
            feats.append(model.forward_features(video, audio).numpy()[keep])
            targets.append(batch["target"].numpy()[keep])
            clips += [batch["clip"][j] for j in keep]
    out = (clips, np.concatenate(feats), np.concatenate(targets))
    atomic_write(cache, lambda f: np.savez(f, clips=np.array(out[0]), features=out[1], targets=out[2]))
    return out


def run_probe(key: RunKey, resolved, work: Path) -> dict:
    from avfmae import zoo
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    spec = registry.get(key.dataset)
    opts = resolved.probe
    model = zoo.create_model(key.model, weights=key.recipe.weights or None, num_classes=0, reset_head=True).eval()
    own = getattr(model, "source_sha256", None)   # a model of your own: its source is part of its features
    ident = hashlib.sha256(f"{key.model}|{key.weights_sha}|{spec.name}@{key.dataset_revision}"
                           f"{'|' + own if own else ''}".encode()).hexdigest()[:16]
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
    skipped = {"train": _missing(spec, key.fold, "train", train[0]), "test": _missing(spec, key.fold, "test", test[0])}
    selected = {"clips": test[0], "targets": test[2].tolist(), "probs" if not spec.regression else "outputs":
                np.asarray(scores).tolist()}
    return {"predictions": {"selected": selected}, "skipped": skipped}


def _missing(spec, fold: str, split: str, clips) -> list[dict]:
    """{clip, file, reason} of the split's clips without features (skipped: they could not be read)."""
    from avfmae.train.sources import load_entries, parse_source
    from avfmae.train.viewcache import skipped_clip

    have = set(map(str, clips))
    return [skipped_clip(e, "could not be read (skipped; the run's log names the error and the manifest line)")
            for e in load_entries([parse_source(spec.split_source(fold, split))]) if e.record.clip not in have]
