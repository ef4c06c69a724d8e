"""Progress off a terminal (CI, nohup, a notebook's `!bakeoff`): one Keras-style line per epoch, run k of N."""
import math
import os
import re
import subprocess
import sys
from pathlib import Path

from bakeoff.cli import main
from bakeoff.engine.progress import epoch_line
from bakeoff.runs.progress import GridProgress, duration

EPOCH = re.compile(r"^epoch (\d+)/2 - \d+\.\ds - loss \d+\.\d{3} - acc [01]\.\d{3} - val_loss \d+\.\d{3} - "
                   r"val_acc [01]\.\d{3}$")


def test_a_piped_compare_prints_each_epoch_and_each_runs_place(tmp_path):
    """`bakeoff compare ... 2>&1 | cat`: stdout and stderr into one pipe, as a CI log gets them."""
    bakeoff = Path(sys.executable).parent / "bakeoff"
    done = subprocess.run([str(bakeoff), "compare", "--dataset", "digits", "--models", "mlp,simple-cnn",
                           "--epochs", "2", "--no-robustness", "--out", str(tmp_path / "cmp")],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300,
                          env={**os.environ, "COLUMNS": "200"})
    assert done.returncode == 0, done.stdout
    lines = done.stdout.splitlines()
    epochs = [line for line in lines if EPOCH.match(line)]
    assert [EPOCH.match(line).group(1) for line in epochs] == ["1", "2", "1", "2"], done.stdout
    starts = [line for line in lines if line.startswith("run ")]
    assert starts[0] == "run 1 of 2: mlp_adam_lr0.001_noaug_seed0"
    assert re.fullmatch(r"run 2 of 2: simple-cnn_adam_lr0\.001_noaug_seed0 \(about \d+ s left\)", starts[1])
    assert lines.index(starts[0]) < lines.index(epochs[0]) < lines.index(starts[1]) < lines.index(epochs[2])


def test_quiet_keeps_only_the_final_table(tmp_path, capsys):
    assert main(["compare", "--dataset", "digits", "--models", "mlp", "--epochs", "1", "--no-robustness",
                 "--quiet", "--out", str(tmp_path / "cmp")]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    assert "bakeoff leaderboard: digits" in captured.out and "epoch" not in captured.out


def test_epoch_line_reads_like_keras():
    row = {"epoch": 7, "seconds": 12.44, "train_loss": 0.4121, "train_acc": 0.8531, "val_loss": 0.3979,
           "val_acc": 0.8612}
    assert epoch_line(row, 3, 10) == "epoch 3/10 - 12.4s - loss 0.412 - acc 0.853 - val_loss 0.398 - val_acc 0.861"
    reconstruction = {**row, "train_acc": math.nan, "val_acc": math.nan}  # the autoencoder's first stage
    assert epoch_line(reconstruction, 1, 5) == "epoch 1/5 - 12.4s - loss 0.412 - val_loss 0.398"


def test_time_left_is_the_runs_left_times_the_time_per_run_so_far():
    said = []
    progress = GridProgress(total=12, to_train=10, say=said.append)  # two were finished before this compare
    progress.starting(3, "a")
    progress.first_start -= 120  # two runs took two minutes
    progress.done()
    progress.done()
    progress.starting(5, "b")
    assert said == ["run 3 of 12: a", "run 5 of 12: b (about 8 min left)"]  # 8 runs left x 60 s


def test_durations_read_as_a_person_reads_a_wait():
    assert [duration(s) for s in (0.2, 40, 89, 240, 3600, 4800)] == ["1 s", "40 s", "1 min", "4 min", "1 h",
                                                                      "1 h 20 min"]
