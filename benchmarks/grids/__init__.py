"""Ablation grids, one file each (`GRID = Grid(...)`); `python -m benchmarks.grid list` shows them.

Defaults follow the paper's setting (base size, the paper's datasets, paper protocol). The same grid runs on the
synthetic demo set on a CPU with: python -m benchmarks.grid NAME --models avfmae-small --datasets demo --cpu
"""
