"""What each subcommand does, given parsed flags: flags become configs, the library runs, results are printed.

cli.py only parses; COMMANDS maps each subcommand to its function, which returns the exit status:
configs.py (flags -> configs), training.py (compare, train, report), looking.py (evaluate, models, datasets),
serving.py (predict, serve, export). The heavy libraries (torch, the report, the web server) load inside
the functions that use them.
"""
from .configs import default_out, grid_from_args, one_run_from_args
from .looking import cmd_datasets, cmd_evaluate, cmd_models
from .serving import cmd_export, cmd_predict, cmd_serve
from .training import cmd_compare, cmd_merge, cmd_report, cmd_train

COMMANDS = {"compare": cmd_compare, "train": cmd_train, "evaluate": cmd_evaluate, "models": cmd_models,
            "datasets": cmd_datasets, "report": cmd_report, "predict": cmd_predict, "serve": cmd_serve,
            "export": cmd_export, "merge": cmd_merge}

__all__ = ["COMMANDS", "default_out", "grid_from_args", "one_run_from_args"]
