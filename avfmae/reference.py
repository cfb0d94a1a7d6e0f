"""Where the official-code goldens live: `$AVF_REFERENCE_DIR`, else `../shared/reference` beside the checkout."""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
ENV_VAR = "AVF_REFERENCE_DIR"


def reference_dir() -> Path | None:
    """The reference folder if it exists, else None. An explicit `$AVF_REFERENCE_DIR` wins over the default."""
    explicit = os.environ.get(ENV_VAR)
    candidate = Path(explicit) if explicit else REPO_ROOT.parent / "shared" / "reference"
    return candidate if (candidate / "README.md").is_file() else None


def missing_reason() -> str:
    explicit = os.environ.get(ENV_VAR)
    where = explicit if explicit else str(REPO_ROOT.parent / "shared" / "reference")
    return (
        f"official-code goldens not found at {where} (no README.md there); "
        f"set {ENV_VAR} to the folder holding manifests/ and golden/"
    )
