"""Point the running (tox) interpreter at an existing virtual environment's site-packages.

Writes `_avfmae_reuse.pth` into this interpreter's site-packages; the line calls `site.addsitedir`, so the
venv's own .pth files (editable installs among them) are processed too.
"""
import site
import sys
import sysconfig
from pathlib import Path


def main(venv: str) -> int:
    venv_path = Path(venv).resolve()
    pyver = f"python{sys.version_info.major}.{sys.version_info.minor}"
    target = venv_path / "lib" / pyver / "site-packages"
    if not target.is_dir():
        print(
            f"reuse_venv: no {target}.\n"
            f"Create the project venv first (README, first command), or set AVF_VENV to a venv made with {pyver}.",
            file=sys.stderr,
        )
        return 2
    here = Path(sysconfig.get_paths()["purelib"])
    (here / "_avfmae_reuse.pth").write_text(f"import site; site.addsitedir({str(target)!r})\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
