"""A comparison in MLflow: one parent run for the comparison (leaderboard and report as artifacts) and one
child run per training run (parameters, per-epoch and final metrics, the checkpoint and run files).

Default store: `sqlite:///OUT/mlflow.db` beside the comparison, artifacts in OUT/mlartifacts, so
`mlflow ui --backend-store-uri sqlite:///OUT/mlflow.db` shows it with no server to run. Logging again (a rerun
of compare) skips the runs already logged with the same metrics.json and replaces those that changed.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from urllib.parse import urlsplit

from ..errors import BakeoffError, one_line
from ..store import runfolder
from ..store.comparison import Comparison, Run
from .params import epoch_metrics, final_metrics, run_params

COMPARISON_FILES = ("leaderboard.csv", "leaderboard.md", "report.html", "report.md", runfolder.GRID_FILE)
RUN_FILES = (runfolder.CONFIG_FILE, runfolder.METRICS_FILE, runfolder.HISTORY_FILE, runfolder.CHECKPOINT_FILE)
TAG = "bakeoff."  # every tag bakeoff sets starts with this
BATCH = 900  # MLflow's log_batch takes at most 1,000 metrics per call


def default_uri(out: Path) -> str:
    return f"sqlite:///{(Path(out) / 'mlflow.db').resolve()}"


def log_to_mlflow(cmp: Comparison, uri: str | None = None) -> tuple[str, str]:
    """Log the comparison; returns (tracking URI, experiment name)."""
    from mlflow.tracking import MlflowClient

    uri = uri or default_uri(cmp.out)
    name = f"bakeoff/{cmp.out.resolve().name}"
    try:
        client = MlflowClient(tracking_uri=uri)
        experiment = _experiment(client, name, uri, cmp.out)
        folder = str(cmp.out.resolve())
        logged = {r.data.tags.get(TAG + "run_id"): r for r in client.search_runs([experiment], max_results=50000)
                  if r.data.tags.get(TAG + "comparison") == folder}
        parent = logged.get(None) or client.create_run(experiment, run_name=cmp.out.resolve().name,
                                                       tags=_comparison_tags(cmp, folder))
        for path in COMPARISON_FILES:
            if (cmp.out / path).is_file():
                client.log_artifact(parent.info.run_id, str(cmp.out / path))
        for run in cmp.runs:
            if run.metrics.get("status") in ("finished", "failed"):
                _log_run(client, experiment, parent.info.run_id, run, folder, logged.get(run.run_id))
        client.set_terminated(parent.info.run_id)
    except BakeoffError:
        raise
    except Exception as e:  # a server that is down, a URI it cannot open: one line, the comparison is kept
        raise BakeoffError(f"mlflow at {uri}: {one_line(e, limit=300)} (the comparison itself is saved in "
                           f"{cmp.out}; `bakeoff compare` with the same flags logs it without retraining)") from None
    return uri, name


def _experiment(client, name: str, uri: str, out: Path) -> str:
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    parts = urlsplit(uri)
    artifacts = None
    if parts.scheme == "sqlite":  # otherwise ./mlruns in whatever folder the process runs from
        artifacts = (Path(parts.path).parent / "mlartifacts").resolve().as_uri()
    return client.create_experiment(name, artifact_location=artifacts)


def _comparison_tags(cmp: Comparison, folder: str) -> dict:
    return {TAG + "comparison": folder, TAG + "kind": "comparison", TAG + "dataset": str(cmp.dataset.get("name")),
            TAG + "command": " ".join(map(str, cmp.record.get("command", []) or []))[:5000]}


def _log_run(client, experiment: str, parent_id: str, run: Run, folder: str, earlier) -> None:
    """One training run as a child run; skipped when logged before with the same metrics.json."""
    from mlflow.entities import Metric, Param

    fingerprint = _fingerprint(run.dir)
    if earlier is not None:
        if earlier.data.tags.get(TAG + "metrics_sha") == fingerprint:
            return
        client.delete_run(earlier.info.run_id)  # retrained since: the new result replaces it
    tags = {"mlflow.parentRunId": parent_id, TAG + "comparison": folder, TAG + "run_id": run.run_id,
            TAG + "model": str(run.config.get("model")), TAG + "seed": str(run.config.get("seed")),
            TAG + "status": str(run.metrics.get("status")), TAG + "metrics_sha": fingerprint}
    child = client.create_run(experiment, run_name=run.run_id, tags=tags).info.run_id
    params = [Param(k, v[:6000]) for k, v in run_params(run.config).items()]
    metrics = [Metric(name, value, 0, step) for step, name, value in epoch_metrics(run.history)]
    last = max((int(r["epoch"]) for r in run.history if r.get("epoch") is not None), default=0)
    metrics += [Metric(k, v, 0, last) for k, v in final_metrics(run.metrics).items()]
    for i in range(0, max(len(params), 1), 100):  # at most 100 parameters per call
        client.log_batch(child, params=params[i:i + 100])
    for i in range(0, len(metrics), BATCH):
        client.log_batch(child, metrics=metrics[i:i + BATCH])
    if run.metrics.get("status") == "failed":
        client.set_tag(child, TAG + "reason", str(run.metrics.get("reason", ""))[:5000])
    for name in RUN_FILES:
        if (run.dir / name).is_file():
            client.log_artifact(child, str(run.dir / name))
    client.set_terminated(child, "FINISHED" if run.metrics.get("status") == "finished" else "FAILED")


def _fingerprint(run_dir: Path) -> str:
    """What identifies a result: its metrics.json, byte for byte (rewritten whenever the run is)."""
    try:
        return hashlib.sha256((run_dir / runfolder.METRICS_FILE).read_bytes()).hexdigest()[:16]
    except OSError:
        return ""
