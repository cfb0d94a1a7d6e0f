"""Three-stage training of AVF-MAE++: pre-training, progressive semantic injection, targeted fine-tuning.

    from avfmae.train import stage_config, run_stage1, run_stage2, run_stage3
    cfg = stage_config("stage3", "cpu", model="avfmae-micro", train="demo/splits/fold1/train.tsv",
                       test="demo/splits/fold1/test.tsv")
    result = run_stage3(cfg, "runs/demo-s3")

Command line: `python -m avfmae.train {stage1,stage2,stage3} --model NAME [--preset P] [key=value ...]`.
See docs/training.md.
"""
from .config import CONFIGS, Stage1Config, Stage2Config, Stage3Config, apply_overrides, stage_config


def run_stage1(cfg, work_dir):
    from .stage1 import run_stage1 as run
    return run(cfg, work_dir)


def run_stage2(cfg, work_dir):
    from .stage2 import run_stage2 as run
    return run(cfg, work_dir)


def run_stage3(cfg, work_dir):
    from .stage3 import run_stage3 as run
    return run(cfg, work_dir)


def evaluate_weights(cfg, work_dir):
    """Score given (fine-tuned) weights on cfg.test without training: stage 3's multi-view test."""
    from .evaluate import evaluate_weights as run
    return run(cfg, work_dir)


__all__ = ["CONFIGS", "Stage1Config", "Stage2Config", "Stage3Config", "apply_overrides", "stage_config",
           "run_stage1", "run_stage2", "run_stage3", "evaluate_weights"]
