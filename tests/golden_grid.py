"""The golden grid: small comparisons on the embedded digits that cover every way a run trains.

Plain one-stage runs (with and without augmentation), the autoencoder's stages (reconstruct, classify,
fine-tune, with denoising), and transfer from a bakeoff run (frozen backbone on cached features,
fine-tuned last block). `tests/test_golden.py` runs it and compares every deterministic number with
`tests/golden/digits.json`, written by this file's `main()` before the engine redesign:

    .venv/bin/python tests/golden_grid.py   # rewrites tests/golden/digits.json (only when a change is meant)
    .venv/bin/python tests/golden_grid.py --this-host   # or a golden of this CPU model's own (see test_golden.py)
"""
from __future__ import annotations

import csv
import json
import re
import sys
from pathlib import Path

GOLDEN = Path(__file__).parent / "golden" / "digits.json"
HOST_GOLDEN = "digits-{}.json"  # a CPU model's own golden, where its kernels give other numbers (test_golden.py)
COMMON = ["--dataset", "digits", "--epochs", "2", "--precision", "fp32", "--device", "cpu", "--quiet"]
# Leaderboard columns and metrics.json keys that do not depend on the clock or the machine's memory.
LEADERBOARD_KEYS = ["model", "optimizer", "lr", "augment", "n_seeds", "train_acc", "val_acc", "test_acc_mean",
                    "test_acc_std", "test_loss", "params", "mflops", "seeds", "failed"]
METRIC_KEYS = ["run_id", "status", "n_train", "n_val", "n_test", "params", "mflops", "epochs_run", "best_epoch",
               "stopped_early", "train_loss", "train_acc", "val_loss", "val_acc", "test_loss", "test_acc",
               "train_mflops", "feature_cache", "trainable_params", "finetuned_blocks", "backbone_blocks",
               "finetune_kept", "reconstruct_epochs", "denoise", "source_classes", "test_recon_mse",
               "pca_recon_mse", "probe_dim", "pca_components", "probe_train_images", "probe_ae_acc", "probe_pca_acc"]
HISTORY_KEYS = ["epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "stage"]


def comparisons(root: Path) -> list[tuple[str, list[str]]]:
    """(name, CLI arguments) of each comparison, in the order they must run (transfer reads 'scratch')."""
    source = root / "scratch" / "mlp_adam_lr0.001_noaug_seed0"
    return [
        ("scratch", ["compare", *COMMON, "--models", "mlp,cnn4", "--seeds", "0,1"]),
        ("augmented", ["compare", *COMMON, "--models", "cnn4", "--augment", "--label-smoothing", "0.1",
                       "--schedule", "onecycle"]),
        ("autoencoder", ["compare", *COMMON, "--models", "autoencoder", "--latent-dim", "16", "--denoise", "0.2",
                         "--finetune-blocks", "2", "--patience", "1", "--epochs", "3"]),
        ("frozen", ["compare", *COMMON, "--models", "mlp", "--pretrained", str(source), "--freeze", "backbone"]),
        ("finetune", ["compare", *COMMON, "--models", "mlp", "--pretrained", str(source), "--finetune-blocks", "1"]),
    ]


def run_golden_grid(root: Path) -> dict:
    """Run every comparison under `root`; return its deterministic numbers."""
    from bakeoff.cli import main

    out = {}
    for name, args in comparisons(root):
        folder = root / name
        assert main([*args, "--out", str(folder)]) == 0, name
        out[name] = read_comparison(folder)
    return out


def read_comparison(folder: Path) -> dict:
    with open(folder / "leaderboard.csv") as f:
        board = [{k: row[k] for k in LEADERBOARD_KEYS} for row in csv.DictReader(f)]
    runs = {}
    for run_dir in sorted(p for p in folder.iterdir() if (p / "metrics.json").is_file()):
        metrics = json.loads((run_dir / "metrics.json").read_text())
        with open(run_dir / "history.csv") as f:
            history = [{k: row[k] for k in HISTORY_KEYS} for row in csv.DictReader(f)]
        runs[run_dir.name] = {"metrics": {k: metrics[k] for k in METRIC_KEYS if k in metrics}, "history": history}
    return {"leaderboard": board, "runs": runs}


def cpu_model() -> str:
    """The CPU model /proc/cpuinfo names (what picks oneDNN's and OpenBLAS's kernels, beyond the capability)."""
    for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def host_golden() -> Path:
    """Where this CPU model's own golden file is, written or not."""
    return GOLDEN.parent / HOST_GOLDEN.format(re.sub(r"[^a-z0-9]+", "-", cpu_model().lower()).strip("-"))


def cpu_capability() -> str:
    import torch

    return torch.backends.cpu.get_cpu_capability()


def main() -> None:
    import tempfile

    import torch

    torch.set_num_threads(1)  # as the test runs it: one thread, the same reduction order every time
    with tempfile.TemporaryDirectory() as tmp:
        numbers = run_golden_grid(Path(tmp))
    path = host_golden() if "--this-host" in sys.argv[1:] else GOLDEN
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps({"cpu_capability": cpu_capability(), "cpu": cpu_model(), "torch": torch.__version__,
                                "comparisons": numbers}, indent=1, sort_keys=True) + "\n")
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
