"""`python -m benchmarks.data`: list, prepare and check the evaluation datasets under `$AVF_DATA_ROOT`.

Each subcommand is a module `cmd_<name>.py` exposing `add_parser(subparsers)` and `run(args) -> int`.
"""
