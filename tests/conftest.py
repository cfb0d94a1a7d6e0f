import os
from pathlib import Path

import pytest

from avfmae.reference import missing_reason, reference_dir


@pytest.fixture(scope="session")
def ref_dir() -> Path:
    """The goldens folder. CI must have it (fail); a user's machine without it skips with the reason."""
    found = reference_dir()
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("CI requires the goldens: " + missing_reason())
        pytest.skip(missing_reason())
    return found
