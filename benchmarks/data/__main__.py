"""Entry point: `python -m benchmarks.data {list,prepare,synth,doctor,extract,features} ...`.

Subcommands are the modules `benchmarks.data.cmd_<name>`; a module that does not exist (yet) is skipped, so
the CLI works while parts of the suite are still being written.
"""
from __future__ import annotations

import argparse
import importlib

COMMANDS = ("list", "prepare", "synth", "extract", "doctor", "features")


def load_commands() -> dict:
    found = {}
    for name in COMMANDS:
        module_name = f"benchmarks.data.cmd_{name}"
        try:
            found[name] = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            if err.name != module_name:
                raise
    return found


def build_parser(commands: dict | None = None) -> argparse.ArgumentParser:
    commands = load_commands() if commands is None else commands
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.data",
        description="Prepare and inspect the evaluation datasets under $AVF_DATA_ROOT.")
    sub = parser.add_subparsers(dest="command", metavar="{" + ",".join(commands) + "}")
    sub.required = True
    for name, module in commands.items():
        p = module.add_parser(sub) or sub.choices[name]  # add_parser may return its parser or not
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args._run(args) or 0)


if __name__ == "__main__":
    from avfmae.cli import run_main

    run_main(main)
