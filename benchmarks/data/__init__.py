"""`python -m benchmarks.data`: list, prepare and check the evaluation datasets under `$AVF_DATA_ROOT`.

Each subcommand is a module `cmd_<name>.py` exposing `add_parser(subparsers)` and `run(args) -> int`.
This package is the command line only: what each dataset is lives in benchmarks.datasets (the specs, release
layouts, importers, and the doctor's checks: clipcheck, diagnosis), reading and preprocessing clips in avfmae.data,
the training/evaluation clip sets in avfmae.train.clips.
"""
