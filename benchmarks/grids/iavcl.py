from benchmarks.gridspec import Grid

GRID = Grid(
    name="iavcl",
    description="IAVCL depth (DiER units) and its parts: without the ER refinement, without HAFE stage fusion",
    paper="IAVCL ablation",
    models=("avfmae-base",),
    datasets=("crema-d-6", "mafw-11"),
    variants=(
        {"stages": "1+3"},
        {"stages": "1+3", "arch.fusion_depth": 1},
        {"stages": "1+3", "arch.fusion_depth": 3},
        {"stages": "1+3", "arch.iavcl_refine": False},
        {"stages": "1+3", "arch.iavcl_stage_fusion": False},
    ),
)
