"""The leaderboard in a terminal: the short table fits 80 columns, --wide shows every column, nothing is cut to '…'."""
import pytest
from rich.console import Console

from bakeoff.store.leaderboard import print_leaderboard


def rows(models=("efficientnet-lite0", "simple-cnn", "mlp")):
    return [{"model": m, "optimizer": "adam", "lr": 0.001, "augment": False, "n_seeds": 3, "val_acc": 0.9312,
             "test_acc_mean": 0.9288, "test_acc_std": 0.0031, "ece": 0.0412, "ece_calibrated": 0.0123,
             "corrupted_acc": 0.6431, "corruption_drop": 0.3077, "params": 29_306_282, "mflops": 59.1,
             "train_seconds": 1234.5, "images_per_s": 2841.0, "train_gflops_per_s": 287.1, "peak_memory_mb": 2142.0,
             "infer_ms": 0.473, "seeds": "0;1;2", "failed": "", "budget": "10 epochs"} for m in models]


def printed(width: int, wide: bool, table_rows=None) -> list[str]:
    console = Console(width=width, force_terminal=True, color_system=None, record=True)
    print_leaderboard(table_rows or rows(), "bakeoff leaderboard: fashion-mnist", console=console, wide=wide)
    return console.export_text().splitlines()


@pytest.mark.parametrize("width", [80, 120])
def test_the_short_table_fits_and_cuts_nothing(width):
    lines = printed(width, wide=False)
    assert max(len(line) for line in lines) <= width
    text = "\n".join(lines)
    assert "…" not in text and "efficientnet-lite0" in text
    assert "ECE" in text and "corrupt" in text and "92.88" in text and "4.12" in text
    assert "Every row: optimizer adam, lr 0.001, augment off." in text  # said once, not a column each


def test_wide_shows_every_column_in_full():
    text = "\n".join(printed(120, wide=True))
    assert "…" not in text
    for header in ("optimizer", "ECE_T", "drop", "params", "GFLOP/s", "peak_MB", "infer_ms"):
        assert header in text, header
    assert "29,306,282" in text and "30.77" in text


def test_axes_that_vary_keep_their_columns():
    varied = rows(("cnn4", "cnn4"))
    varied[1]["optimizer"] = "sgd"
    text = "\n".join(printed(80, wide=False, table_rows=varied))
    assert "sgd" in text and "Every row: lr 0.001, augment off." in text
