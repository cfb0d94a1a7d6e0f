from benchmarks.gridspec import Grid

GRID = Grid(
    name="sizes",
    description="model size: base / large / huge through the full pipeline",
    paper="main tables, B / L / H rows",
    models=("avfmae-base", "avfmae-large", "avfmae-huge"),
    datasets=("crema-d-6", "mafw-11", "dfew"),
    variants=({"stages": "1+2+3"},),
)
