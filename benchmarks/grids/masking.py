from benchmarks.gridspec import Grid

# Tube-masked video must leave an even number of visible positions per token-frame (2 spatial regions) and
# random-masked audio a multiple of 8 visible patches (8 LG chunks): hence 0.7/0.8/0.9 and 0.75/0.8125/0.875.
PRE = {"stages": "1+3"}
GRID = Grid(
    name="masking",
    description="masking ratios and single vs dual masking (pre-training ablation, then stage-3 fine-tuning)",
    paper="masking-ratio and dual-masking ablations",
    models=("avfmae-base",),
    datasets=("crema-d-6", "mafw-11"),
    variants=(
        dict(PRE),
        {**PRE, "arch.mask_ratio_video": 0.8},
        {**PRE, "arch.mask_ratio_video": 0.7},
        {**PRE, "arch.mask_ratio_audio": 0.75},
        {**PRE, "arch.mask_ratio_audio": 0.875},
        {**PRE, "arch.decoder_mask_ratio_video": 0.0, "arch.decoder_mask_ratio_audio": 0.0},  # single masking
    ),
)
