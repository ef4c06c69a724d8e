"""What each subcommand does, given parsed flags: flags become configs, the library runs, results are printed.

cli.py only parses; `run_command` calls the subcommand's function, which returns the exit status:
configs.py (flags -> configs), training.py (compare, train, report, merge), looking.py (evaluate, models,
datasets), serving.py (predict, serve, export). Only the module of the command given is imported, after
cli.main has set the process up: torch, the report's drawing libraries and the web server load for the
commands that use them, and `--help` loads none.
"""
from __future__ import annotations

import importlib

# subcommand -> (module of this package, function)
COMMANDS = {"compare": ("training", "cmd_compare"), "train": ("training", "cmd_train"),
            "report": ("training", "cmd_report"), "merge": ("training", "cmd_merge"),
            "evaluate": ("looking", "cmd_evaluate"), "models": ("looking", "cmd_models"),
            "datasets": ("looking", "cmd_datasets"), "predict": ("serving", "cmd_predict"),
            "serve": ("serving", "cmd_serve"), "export": ("serving", "cmd_export")}


def run_command(name: str, args) -> int:
    """Run subcommand `name` with its parsed flags; its exit status."""
    module, function = COMMANDS[name]
    return getattr(importlib.import_module(f".{module}", __name__), function)(args)
