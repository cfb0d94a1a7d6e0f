from benchmarks.gridspec import Grid

GRID = Grid(
    name="contrastive",
    description="weight of the hierarchical contrastive loss in pre-training (0 = reconstruction only)",
    paper="loss ablation (HCMCL weight 0.0025 in every script)",
    models=("avfmae-base",),
    datasets=("crema-d-6", "mafw-11"),
    variants=tuple({"stages": "1+3", "arch.contrastive_weight": w} for w in (0.0, 0.0025, 0.01)),
)
