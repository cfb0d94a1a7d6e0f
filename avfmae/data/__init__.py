"""Readers and preprocessing: everything between files on disk and the tensors the models take.

Manifests (manifest), video/audio readers (readers), the official evaluation views and fbank (views, video,
audio), training augmentation (augment, mixup), pre-training inputs (pretrain), and ClipDataset (loader), the
manifest-level dataset of the preprocessing conformance. Not here: the clip sets training and evaluation iterate
(avfmae.train.clips), the dataset specs (benchmarks.datasets), the data CLI (python -m benchmarks.data).
"""
