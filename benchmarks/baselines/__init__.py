"""Baseline models outside the AVF-MAE++ family, run through the adapter contract (avfmae.zoo.adapters).

    python -m benchmarks.run --model benchmarks.baselines.late_fusion:create_small --suite demo
"""
