from benchmarks.gridspec import Grid

GRID = Grid(
    name="attention",
    description="encoder attention type: full local-global (4 attentions) vs without the holistic 4th (LGI-Former) "
                "vs without global exchange",
    paper="encoder (refined/holistic modality encoder) ablation",
    models=("avfmae-base",),
    datasets=("crema-d-6", "mafw-11"),
    variants=(
        {"stages": "1+3"},
        {"stages": "1+3", "arch.lg_fourth": False},
        {"stages": "1+3", "arch.lg_fourth": False, "arch.lg_second": False},
        {"stages": "1+3", "arch.lg_fourth": False, "arch.lg_third": False},
    ),
)
