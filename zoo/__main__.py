"""`python -m zoo list|info NAME`: see `avfmae.zoo.__main__`."""
import sys

from avfmae.zoo.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
