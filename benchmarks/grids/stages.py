from benchmarks.gridspec import Grid

GRID = Grid(
    name="stages",
    description="which training stages: 3 only (random init) vs 1+3 vs 1+2+3 (progressive semantic injection)",
    paper="progressive semantic injection ablation",
    models=("avfmae-base",),
    datasets=("crema-d-6", "mafw-11"),
    variants=({"stages": "3"}, {"stages": "1+3"}, {"stages": "1+2+3"}),
)
