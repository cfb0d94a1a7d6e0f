"""PNG plots beside the markdown: ablation bars per grid, and main metric vs model size."""
from __future__ import annotations

import collections
from pathlib import Path


def write_plots(rows, out: Path) -> list[Path]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = [_scaling_plot(rows, out, plt)]
    grids = collections.defaultdict(list)
    for r in rows:
        if r.grid:
            grids[r.grid].append(r)
    for grid, sel in sorted(grids.items()):
        bars = []
        for r in sel:
            agg = r.metric(r.spec.main_metric)
            if agg is not None and agg.complete:
                bars.append((f"{r.model.split('.')[0]}\n{r.variant}\n{r.dataset}", agg.mean, agg.std))
        if not bars:
            continue
        fig, ax = plt.subplots(figsize=(max(4, 1.2 * len(bars)), 3.5))
        ax.bar(range(len(bars)), [b[1] for b in bars], yerr=[b[2] for b in bars], color="#4c72b0")
        ax.set_xticks(range(len(bars)), [b[0] for b in bars], fontsize=7)
        ax.set_ylabel("main metric (%)")
        ax.set_title(f"ablation: {grid}")
        fig.tight_layout()
        path = out / "ablations" / f"{grid}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110, metadata={"Software": None})
        plt.close(fig)
        written.append(path)
    return written


SIZES_M = {"avfmae-base": 169, "avfmae-large": 303, "avfmae-huge": 521}


def _scaling_plot(rows, out: Path, plt) -> Path:
    """Main metric against parameters for B / L / H: the paper's numbers (lines) and ours (points)."""
    from .datasets import registry

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for name in registry.list_datasets("all"):
        spec = registry.get(name)
        pts = [(SIZES_M[m], (spec.paper or {}).get(m, {}).get(spec.main_metric)) for m in SIZES_M]
        pts = [(x, y) for x, y in pts if y is not None]
        if len(pts) >= 2:
            line, = ax.plot(*zip(*pts), marker="o", lw=1, label=spec.title)
            for r in rows:
                base = r.model.split(".")[0]
                agg = r.metric(spec.main_metric) if r.dataset == name and base in SIZES_M and not r.grid else None
                if agg is not None and agg.complete:
                    ax.plot(SIZES_M[base], agg.mean, marker="*", ms=12, color=line.get_color())
    ax.set_xlabel("parameters (M)")
    ax.set_ylabel("main metric (%)")
    ax.set_title("Scaling with model size (lines: paper; stars: ours)")
    ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    path = out / "scaling.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)
    return path
