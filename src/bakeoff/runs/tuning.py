"""Equal tuning budgets: `--tune N` gives every model the same N hyperparameter trials.

Each trial trains the run's configuration (same epochs, same data split, same seed) with a learning rate,
a weight decay and whatever the model family declares (`ClassifierBase.tunable`) drawn by Optuna's TPE
sampler; a MedianPruner stops a trial whose validation accuracy after an epoch falls below the median of
the earlier trials' at that epoch. The best trial (validation accuracy, then validation loss, then the
earlier trial) gives RunConfig overrides, which compare then trains over its seeds.

Only the validation split decides. Trials train through `runner.train_for_validation`, which builds the
training and validation splits alone: the test split is never read while tuning.

Trial 0 is the configuration as given (where its values lie in the search space), so the tuned choice is
never worse on validation than the untuned default at the tuning seed.

Every finished trial is written to out_dir/tuning/<model>-<key>.json at once; the key hashes everything
that decides the trials except their number, so a rerun reuses them: asking for no more trials than are
stored trains nothing (the first N are those a fresh N-trial run draws: TPE and the pruner look only at
earlier trials), asking for more continues the study (its new trials are not those a fresh run would draw,
since the sampler's random state starts again).
"""
from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import dataclass, replace
from pathlib import Path

import optuna
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState

from ..config import RunConfig
from ..engine.epoch import Diverged
from ..errors import ConfigError
from ..files import atomic_write_text, file_safe
from ..models import create_model
from ..models.pretrained import model_options
from .runner import PreparedData, train_for_validation

TUNING_DIR = "tuning"  # under the comparison's folder
FORMAT = 1  # bump when the search or the file changes meaning: files of another format are not reused

# Learning rate, log-uniform, per optimizer: two decades around the setting each is known to work at.
LR_RANGES = {
    "adam": (1e-4, 1e-2),  # Keras' default 1e-3 (the seeds' setting) in the middle; above 1e-2 it often diverges
    "adamw": (1e-4, 1e-2),  # the same adaptive step as Adam
    "rmsprop": (1e-4, 1e-2),  # Keras' default 1e-3 too, the same scale of adaptive step
    "sgd": (1e-3, 1.0),  # Nesterov momentum 0.9 makes the step ~10x lr; the fast recipe's 0.2-0.4 lie inside
    "adadelta": (1e-2, 10.0),  # its step is its own RMS ratio times lr: the paper's and PyTorch's lr 1.0 in the middle
}
# Weight decay: a switch (0, the default, stays reachable exactly) and a log-uniform strength used when on.
WD_RANGES = {
    "adamw": (1e-4, 1e-1),  # decoupled, multiplied by lr each step: PyTorch's default 1e-2 in the middle
}
WD_RANGE_L2 = (1e-6, 1e-2)  # the other optimizers add it to the gradient as L2: the classic 5e-4 (ResNet, SGD) inside
STARTUP_TRIALS = 4  # random trials before TPE models the results; Optuna's 10 would leave a 12-trial budget random
PRUNE_AFTER_TRIALS = 3  # the median of fewer finished trials is too noisy to stop anything on
PRUNE_FROM_EPOCH = 1  # MedianPruner's n_warmup_steps 0: with the few epochs of a CPU comparison (2-5), waiting
# longer saves little; the cost is that slow starters (a low lr) can be cut after their first epoch
SAMPLER = {"name": "TPESampler", "n_startup_trials": STARTUP_TRIALS}
PRUNER = {"name": "MedianPruner", "n_startup_trials": PRUNE_AFTER_TRIALS, "n_warmup_steps": PRUNE_FROM_EPOCH - 1}
NOT_IN_KEY = ("tune", "name_axes")  # the trial count (stored trials are reused as a prefix) and naming only


@dataclass
class TuneResult:
    """What `tune` found for one configuration; `trials` are the records written to `path`."""

    model: str
    n_trials: int
    overrides: dict  # RunConfig fields of the best trial: lr, weight_decay and what the model declares
    best_trial: int | None  # None when no trial finished (every one diverged): overrides are cfg's own values
    best_val_acc: float | None
    trials: list[dict]
    path: Path
    new_trials: int  # trials trained by this call; 0 when every one came from `path`

    @property
    def budget(self) -> str:
        """How the leaderboard names this budget."""
        return f"tuned: {self.n_trials} trials (Optuna TPE, median pruning)"

    def apply(self, cfg: RunConfig) -> RunConfig:
        """`cfg` with the best trial's values."""
        return replace(cfg, **self.overrides)


def tune(cfg: RunConfig, data: PreparedData, n_trials: int, out_dir: Path, console_print=print) -> TuneResult:
    """Run `n_trials` trials of `cfg` on the validation split, or reuse those stored under `out_dir`."""
    if n_trials < 1:
        raise ConfigError(f"--tune must be at least 1 trial, got {n_trials}")
    if cfg.val_fraction <= 0 and not cfg.folds:
        raise ConfigError("--tune chooses on the validation split: it needs --val-fraction above 0")
    space = search_space(cfg, data)
    config = {k: v for k, v in cfg.to_dict().items() if k not in NOT_IN_KEY}
    settings = {"format": FORMAT, "config": config, "data": _data_identity(data),
                "space": {k: list(v) for k, v in space.items()}, "sampler": SAMPLER, "pruner": PRUNER}
    key = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:12]
    path = Path(out_dir) / TUNING_DIR / f"{file_safe(cfg.model)}-{key}.json"
    stored = _read_trials(path, settings)
    trials = stored[:n_trials]
    new = n_trials - len(trials)
    if new:
        if trials:
            console_print(f"tune {cfg.model}: continuing from {len(trials)} trials stored in {path}")
        study = _study(cfg, space, trials)
        for _ in range(new):
            trials.append(_run_trial(study, cfg, data, space, n_trials, console_print))
            _write_trials(path, settings, trials)  # after every trial: an interrupted tuning resumes
    else:
        console_print(f"tune {cfg.model}: {n_trials} trials reused from {path}")
    return _result(cfg, space, n_trials, trials, path, new)


# ---- the search space ----------------------------------------------------------------------------------------

def search_space(cfg: RunConfig, data: PreparedData) -> dict[str, tuple]:
    """{name: spec} in the format of `ClassifierBase.tunable`: lr, the weight-decay switch and strength,
    then the model family's own fields (none for weights from a checkpoint, whose architecture is fixed)."""
    space = {"lr": ("float", *LR_RANGES[cfg.optimizer], True),
             "weight_decay_on": ("categorical", [False, True]),
             "weight_decay": ("float", *WD_RANGES.get(cfg.optimizer, WD_RANGE_L2), True)}
    if cfg.pretrained != "none":
        return space
    model_class = _model_class(cfg, data)
    declared = model_class.tunable() if hasattr(model_class, "tunable") else {}
    unknown = set(declared) - set(RunConfig.__dataclass_fields__)
    assert not unknown, f"{cfg.model} declares tunable fields that RunConfig lacks: {sorted(unknown)}"
    return {**space, **declared}


def _model_class(cfg: RunConfig, data: PreparedData) -> type:
    """The model's class: the registry holds factories, so one is built (cheap next to a trial's training)."""
    ds = data.dataset
    return type(create_model(cfg.model, ds.num_classes, ds.in_chans, ds.img_size, **model_options(cfg)))


def overrides_from(params: dict) -> dict:
    """Optuna's parameters -> RunConfig fields: the weight-decay switch folds into weight_decay."""
    out = {k: v for k, v in params.items() if k not in ("weight_decay_on", "weight_decay")}
    out["weight_decay"] = float(params["weight_decay"]) if params["weight_decay_on"] else 0.0
    return out


def _distributions(space: dict[str, tuple]) -> dict:
    out = {}
    for name, spec in space.items():
        kind = spec[0]
        if kind == "float":
            out[name] = FloatDistribution(spec[1], spec[2], log=spec[3])
        elif kind == "int":
            out[name] = IntDistribution(spec[1], spec[2], log=spec[3])
        elif kind == "categorical":
            out[name] = CategoricalDistribution(list(spec[1]))
        else:
            raise AssertionError(f"unknown kind '{kind}' in the search space of {name}")
    return out


def _given_values(cfg: RunConfig, space: dict[str, tuple]) -> dict:
    """cfg's own values as trial parameters, those that lie in the space (the others are sampled)."""
    values = {name: getattr(cfg, name) for name in space if hasattr(cfg, name)}
    values["weight_decay_on"] = cfg.weight_decay > 0
    if cfg.weight_decay == 0:
        del values["weight_decay"]  # unused when off: the sampler draws it
    return {k: v for k, v in values.items() if _in_space(space[k], v)}


def _in_space(spec: tuple, value) -> bool:
    if spec[0] == "categorical":
        return value in spec[1]
    return spec[1] <= value <= spec[2]


# ---- trials ------------------------------------------------------------------------------------------------

def _study(cfg: RunConfig, space: dict[str, tuple], done: list[dict]) -> optuna.Study:
    """A fresh study, seeded by cfg.seed, holding the trials already `done`; trial 0 is cfg as given."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # our own line per trial instead of Optuna's
    sampler = optuna.samplers.TPESampler(seed=cfg.seed, n_startup_trials=STARTUP_TRIALS)
    pruner = optuna.pruners.MedianPruner(n_startup_trials=PRUNE_AFTER_TRIALS, n_warmup_steps=PRUNE_FROM_EPOCH - 1)
    study = optuna.create_study(direction="maximize", sampler=sampler, pruner=pruner)
    dists = _distributions(space)
    for rec in done:
        study.add_trial(optuna.trial.create_trial(
            state=_STATES[rec["state"]], value=rec["val_acc"] if rec["state"] == "complete" else None,
            params=rec["params"], distributions=dists,
            intermediate_values={int(e): a for e, a in rec["val_acc_by_epoch"]}))
    if not done:
        study.enqueue_trial(_given_values(cfg, space))
    return study


_STATES = {"complete": TrialState.COMPLETE, "pruned": TrialState.PRUNED, "failed": TrialState.FAIL}


def _run_trial(study: optuna.Study, cfg: RunConfig, data: PreparedData, space: dict[str, tuple], n_trials: int,
               console_print) -> dict:
    """Ask for parameters, train on them reporting validation accuracy each epoch, tell the outcome."""
    trial = study.ask(_distributions(space))
    params = dict(trial.params)
    by_epoch: list[list] = []  # [epoch, validation accuracy] as reported to the pruner

    def on_epoch(history: list[dict]) -> None:
        row = history[-1]
        if not math.isfinite(row["val_acc"]):
            return  # the autoencoder's reconstruction epochs have no accuracy
        by_epoch.append([row["epoch"], row["val_acc"]])
        trial.report(row["val_acc"], row["epoch"])
        if trial.should_prune():
            raise optuna.TrialPruned()

    start = time.perf_counter()
    record = {"number": trial.number, "params": params, "overrides": overrides_from(params),
              "val_acc": None, "val_loss": None, "best_epoch": None}
    try:
        result = train_for_validation(replace(cfg, **overrides_from(params)), data, on_epoch=on_epoch)
    except optuna.TrialPruned:
        study.tell(trial, state=TrialState.PRUNED)
        record["state"] = "pruned"
    except Diverged as e:
        study.tell(trial, state=TrialState.FAIL)
        record.update(state="failed", reason=str(e))
    else:
        best = result.history[result.best_epoch - 1]
        study.tell(trial, best["val_acc"])
        record.update(state="complete", val_acc=best["val_acc"], val_loss=best["val_loss"],
                      best_epoch=result.best_epoch)
    record.update(val_acc_by_epoch=by_epoch, epochs_run=len(by_epoch), seconds=time.perf_counter() - start)
    console_print(f"tune {cfg.model} trial {trial.number + 1}/{n_trials}: {_describe(record['overrides'])} -> "
                  f"{_outcome(record)} ({record['seconds']:.1f}s)")
    return record


def _describe(overrides: dict) -> str:
    return " ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}" for k, v in overrides.items())


def _outcome(record: dict) -> str:
    if record["state"] == "complete":
        return f"val acc {100 * record['val_acc']:.2f}%"
    if record["state"] == "pruned":
        return f"pruned after epoch {record['val_acc_by_epoch'][-1][0]}"
    return "failed: " + record["reason"]


def _result(cfg: RunConfig, space: dict[str, tuple], n_trials: int, trials: list[dict], path: Path,
            new: int) -> TuneResult:
    """The best complete trial: highest validation accuracy, then lowest validation loss, then the earliest."""
    complete = [t for t in trials if t["state"] == "complete"]
    if not complete:
        given = {name: getattr(cfg, name) for name in space if name != "weight_decay_on"}
        return TuneResult(cfg.model, n_trials, given, None, None, trials, path, new)
    best = min(complete, key=lambda t: (-t["val_acc"], _or_inf(t["val_loss"]), t["number"]))
    return TuneResult(cfg.model, n_trials, dict(best["overrides"]), best["number"], best["val_acc"], trials, path,
                      new)


def _or_inf(v) -> float:
    return v if v is not None and math.isfinite(v) else math.inf


# ---- the trials file -----------------------------------------------------------------------------------------

def _data_identity(data: PreparedData) -> dict:
    """What tells training data apart without hashing pixels; nothing of the test split is read."""
    ds = data.dataset
    return {"name": ds.name, "classes": list(ds.classes), "n_train": int(ds.y_train.numel()),
            "shape": list(ds.x_train.shape[1:]), "mean": data.mean, "std": data.std}


def _read_trials(path: Path, settings: dict) -> list[dict]:
    """Trials stored under the same settings, in order; [] when none (or the file is unreadable)."""
    try:
        stored = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    if stored.get("settings") != json.loads(json.dumps(settings, default=str)):
        return []
    return stored.get("trials", [])


def _write_trials(path: Path, settings: dict, trials: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"settings": settings, "optuna": optuna.__version__, "trials": trials}
    atomic_write_text(path, json.dumps(_finite(doc), indent=1, default=str) + "\n")


def _finite(x):
    """NaN and infinities as null: strict JSON."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {str(k): _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    return x
