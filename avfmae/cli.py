"""What every long-running command's `python -m` entry shares: Ctrl-C ends it with one line, not a traceback."""
from __future__ import annotations

import sys
from typing import Callable, NoReturn

__all__ = ["INTERRUPTED", "run_main"]

INTERRUPTED = 130   # the shell's status for a process ended by SIGINT

_RESUMES = ("interrupted (Ctrl-C). What was finished is kept; running the same command again continues from there")


def run_main(main: Callable[[], int | None], message: str = _RESUMES) -> NoReturn:
    """sys.exit(main()), except that a KeyboardInterrupt prints `message` (default: that the command resumes) and
    exits with status 130, as a shell reports a process ended by Ctrl-C."""
    try:
        code = main()
    except KeyboardInterrupt:
        print(f"\n{message}", file=sys.stderr)
        code = INTERRUPTED
    sys.exit(code)
