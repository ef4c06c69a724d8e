"""Commands that train: compare, train (a grid of one run), and report (rebuilt from run folders)."""
from __future__ import annotations

import sys
from pathlib import Path

from ..config import GridConfig, RunConfig
from ..engine.interrupt import graceful_signals, Interrupted
from ..errors import ConfigError
from ..models.options import grid_runs
from ..report import build_report
from ..runs.comparison import run_comparison
from ..runs.ddp import train_distributed
from ..runs.grid import run_grid
from ..runs.merge import merge_comparisons
from ..store.leaderboard import one_class_warnings, print_leaderboard, validation_resolution
from .configs import compare_options, one_run_from_args


def cmd_compare(args) -> int:
    """Train the grid (finished runs are skipped), print the leaderboard; --open shows the report.

    The Python API's `run_comparison` does the work; this prints each dataset's leaderboard as it finishes."""
    done = []
    track, mlflow_uri = tracking_flags(args)

    def run_all() -> None:
        done.append(run_comparison(
            compare_options(args), quiet=args.quiet, robustness=not args.no_robustness, track=track,
            mlflow_uri=mlflow_uri, executor=args.executor, ray_address=args.ray_address,
            cpus_per_run=args.cpus_per_run, gpus_per_run=args.gpus_per_run, after_grid=lambda grid, rows: _print_leaderboard(grid, rows, args.wide)))

    status = _until_signal(run_all)
    if status == 0 and args.open:
        open_in_browser(done[0] / "report.html")
    return status


def tracking_flags(args) -> tuple[list[str], str | None]:
    """--mlflow [URI] and --tensorboard, and their older spellings --track mlflow,tensorboard and --mlflow-uri
    URI, as the trackers and the MLflow URI `run_comparison` takes (None: sqlite:///OUT/mlflow.db)."""
    track = [t.strip() for t in (args.track or "").split(",") if t.strip()]
    if args.mlflow is not None:
        track.append("mlflow")
    if args.tensorboard:
        track.append("tensorboard")
    uris = {u for u in (args.mlflow or None, args.mlflow_uri) if u is not None}
    if args.mlflow_uri == "":
        raise ConfigError("--mlflow-uri needs a tracking URI, e.g. sqlite:///mlflow.db or http://host:5000 "
                          "(--mlflow alone logs to sqlite:///OUT/mlflow.db)")
    if len(uris) > 1:
        raise ConfigError(f"--mlflow {args.mlflow} and --mlflow-uri {args.mlflow_uri} name two tracking URIs; "
                          f"give one")
    return list(dict.fromkeys(track)), next(iter(uris), None)


def cmd_train(args) -> int:
    """Train one run, here or (--distributed, under torchrun) across processes."""
    grid, out = one_run_from_args(args)
    if args.distributed:
        return _until_signal(lambda: _train_distributed(grid_runs(grid)[0], out, args.quiet))
    return _until_signal(lambda: _run_grid(grid, out, args.quiet, robustness=not args.no_robustness,
                                           wide=args.wide))


def _run_grid(grid: GridConfig, out: Path, quiet: bool, executor=None, robustness: bool = True,
              wide: bool = False) -> None:
    """Run the grid and print its leaderboard."""
    rows = run_grid(grid, out, quiet=quiet, executor=executor, robustness=robustness)
    _print_leaderboard(grid, rows, wide)


def _print_leaderboard(grid: GridConfig, rows: list[dict], wide: bool = False) -> None:
    """The leaderboard table on stdout (kept under --quiet), and a warning when validation cannot rank."""
    from rich.console import Console

    dataset = grid.base.get("dataset", RunConfig.dataset)
    console = Console()
    print_leaderboard(rows, title=f"bakeoff leaderboard: {dataset} (sorted by validation accuracy)", console=console,
                      wide=wide)
    for warning in [validation_resolution(rows), *one_class_warnings(rows)]:
        if warning:
            console.print(f"[yellow]warning:[/yellow] {warning}")


def _train_distributed(cfg: RunConfig, out: Path, quiet: bool) -> None:
    metrics = train_distributed(cfg, out, quiet=quiet)
    if metrics is not None:  # rank 0 reports; the other ranks stay quiet
        print(f"{metrics['run_id']} on {metrics['world_size']} processes: test accuracy "
              f"{100 * metrics['test_acc']:.2f}%, written to {out}")


def _until_signal(run) -> int:
    """Train; SIGINT/SIGTERM end it after the current step with exit status 130/143."""
    try:
        with graceful_signals():
            run()
    except Interrupted as e:
        print(f"bakeoff: {e}; finished runs are kept and the same command resumes the rest", file=sys.stderr)
        return e.exit_code
    return 0


def cmd_report(args) -> int:
    """Rebuild report.html and report.md from the run folders alone; nothing is trained."""
    path = build_report(Path(args.out))
    if args.open:
        open_in_browser(path)
    print(f"report: {path}")
    return 0


def cmd_merge(args) -> int:
    """Merge comparison folders of the same data and split into a new one, with its leaderboard and report."""
    path = merge_comparisons([Path(s) for s in args.sources], Path(args.out))
    if args.open:
        open_in_browser(path)
    print(f"report: {path}")
    return 0


def open_in_browser(path: Path) -> None:
    """Open a local file in the web browser, or say where it is when there is none."""
    import webbrowser

    if not webbrowser.open(path.resolve().as_uri()):
        print(f"bakeoff: no web browser found; open {path} yourself", file=sys.stderr)
