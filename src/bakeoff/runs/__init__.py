"""Runs, from options to finished run folders: the plan (options -> grids), one run (runner.py), a grid of them
(grid.py) on this machine or Ray (executors.py), under torchrun (ddp.py), tuned (tuning.py), merged (merge.py)."""
