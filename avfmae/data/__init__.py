"""Readers and preprocessing: everything between files on disk and the tensors the models take.

Manifests (manifest), video/audio readers (readers), the official evaluation views and fbank (views, video,
audio), training augmentation (augment, mixup), pre-training inputs (pretrain). Not here: the one clip loader
that training, evaluation, the probe and feature extraction iterate (avfmae.train.clips.ClipSet), the dataset
specs (benchmarks.datasets), the data CLI (python -m benchmarks.data).
"""
