"""The report from hand-made comparison folders: no training, every file written as the runner writes it.

The autoencoder's three figures are drawn from its autoencoder.npz, a run without one still reports,
and a comparison is rebuilt from its folder alone when its --pretrained source no longer exists.
"""
import io
import re

import numpy as np
import pytest
from matplotlib import colormaps
from PIL import Image

from bakeoff import files
from bakeoff.store import runfolder
from bakeoff.config import GridConfig
from bakeoff.report import build_report, figures
from bakeoff.store.comparison import collect
from bakeoff.report.autoencoder import autoencoder_blocks
from bakeoff.report.blocks import Figure, Text
from bakeoff.models.options import grid_runs

CLASSES = [str(k) for k in range(10)]  # digits
N_TEST = 60  # not digits' 360 test images: the report leaves the image grids out and stays quick
SHOWN = 4  # images per row of the autoencoder figures
SIDE = 8  # digits' image side
AE_FIGURES = ("autoencoder_reconstructions", "autoencoder_denoised", "autoencoder_latent_map")
RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)


def write_comparison(out, models: list[str], base: dict, extra_metrics: dict | None = None) -> list:
    """grid.json and one finished run folder per model, with random predictions; returns the RunConfigs."""
    grid = GridConfig(models=models, base={"dataset": "digits", "epochs": 1, **base})
    runs = grid_runs(grid)
    for cfg in runs:
        run_dir = out / cfg.run_id
        rng = np.random.default_rng(len(cfg.model))
        y_true = rng.integers(0, len(CLASSES), N_TEST)
        probs = rng.dirichlet(np.ones(len(CLASSES)), N_TEST).astype(np.float32)
        loss = -np.log(probs[np.arange(N_TEST), y_true])
        files.write_json(run_dir / runfolder.CONFIG_FILE, cfg.to_dict())
        runfolder.write_predictions(run_dir, y_true, probs, loss)
        runfolder.write_history(run_dir, [{"epoch": 1, "train_loss": 2.0, "train_acc": 0.3, "val_loss": 2.1,
                                           "val_acc": 0.25, "lr": cfg.lr, "seconds": 1.5, "stage": ""}])
        test_acc = float(np.mean(probs.argmax(1) == y_true))
        files.write_json(run_dir / runfolder.METRICS_FILE, {
            "status": "finished", "seed": cfg.seed, "run_id": cfg.run_id, "test_acc": test_acc,
            "test_loss": float(loss.mean()), "val_acc": 0.25, "val_loss": 2.1, "train_acc": 0.3, "train_loss": 2.0,
            "best_epoch": 1, "epochs_run": 1, "params": 1000, "mflops": 0.01, "train_seconds": 1.5,
            "seconds_per_epoch": 1.5, "images_per_s": 800.0, "infer_ms": 0.02, "n_train": 1293, "n_val": 144,
            "n_test": N_TEST, "device": "cpu", "precision": "fp32", **(extra_metrics or {})})
    grid_axes = {"models": grid.models, "optimizers": grid.optimizers, "lrs": grid.lrs, "augment": grid.augment,
                 "seeds": grid.seeds}
    files.write_json(out / "grid.json", {
        "grid": {**grid_axes, **grid.base}, "versions": {},
        "dataset": {"name": "digits", "classes": CLASSES, "n_train": 1437, "n_test": N_TEST,
                    "shape": [1, SIDE, SIDE], "source": "hand-made"}})
    return runs


AE_METRICS = {"probe_dim": 16, "pca_components": 16, "probe_train_images": 300, "probe_ae_acc": 0.8,
              "probe_pca_acc": 0.7, "test_recon_mse": 0.2, "pca_recon_mse": 0.3, "denoise": 0.2,
              "noise_shown": 0.2, "reconstruct_epochs": 1, "reconstruct_seconds": 1.0}
MAP_CLASSES = 3  # the latent map's points belong to classes 0..2 of the 10


def solid(rgb: tuple[int, int, int]) -> np.ndarray:
    """SHOWN images of one pure colour, (n, H, W, 3) in 0..1 as autoencoder.npz holds RGB images."""
    return np.broadcast_to(np.array(rgb, np.float32) / 255, (SHOWN, SIDE, SIDE, 3)).copy()


def ae_arrays(m: int = 90) -> dict:
    rng = np.random.default_rng(0)
    labels = np.arange(m, dtype=np.int64) % MAP_CLASSES
    xy = (rng.normal(size=(m, 2)) + 4 * labels[:, None]).astype(np.float32)
    return {"images": solid(RED), "reconstructions": solid(BLUE), "noisy": solid(GREEN), "denoised": solid(BLUE),
            "codes_xy": xy, "pca_xy": xy[::-1].copy(), "map_labels": labels}


def autoencoder_comparison(out, arrays: dict | None) -> object:
    [cfg] = write_comparison(out, ["autoencoder"], {"latent_dim": 16, "denoise": 0.2}, AE_METRICS)
    if arrays is not None:
        files.write_arrays(out / cfg.run_id / runfolder.AUTOENCODER_FILE, arrays)
    return cfg


def pixel_count(png: bytes, rgb: tuple[int, int, int]) -> int:
    a = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).reshape(-1, 3)
    return int(np.all(a == rgb, axis=1).sum())


def tab_color(name: str, i: int) -> tuple[int, int, int]:
    return tuple(round(255 * v) for v in colormaps[name](i)[:3])


def test_the_three_autoencoder_figures_are_drawn_from_its_npz(tmp_path):
    out = tmp_path / "ae"
    autoencoder_comparison(out, ae_arrays())
    build_report(out)
    md = (out / "report.md").read_text()
    for name in AE_FIGURES:
        assert f"(figures/{name}.png)" in md
    pngs = {name: (out / "figures" / f"{name}.png").read_bytes() for name in AE_FIGURES}

    # Every shown image whole, each tile scaled by the same whole number: its colour covers n x (s x SIDE)^2 pixels.
    tile = pixel_count(pngs["autoencoder_reconstructions"], RED) // SHOWN
    scale = round(np.sqrt(tile)) // SIDE
    assert scale >= 1 and tile == (scale * SIDE) ** 2
    recon = pngs["autoencoder_reconstructions"]
    assert [pixel_count(recon, c) for c in (RED, BLUE, GREEN)] == [SHOWN * tile, SHOWN * tile, 0]
    denoised = pngs["autoencoder_denoised"]
    assert [pixel_count(denoised, c) for c in (RED, GREEN, BLUE)] == [SHOWN * tile] * 3  # clean, noisy, output

    # Coloured by class with tab10: the three classes on the map have their colours, the fourth none.
    latent = pngs["autoencoder_latent_map"]
    assert all(pixel_count(latent, tab_color("tab10", k)) for k in range(MAP_CLASSES))
    assert pixel_count(latent, tab_color("tab10", MAP_CLASSES)) == 0


def test_grey_images_are_drawn_as_the_same_grey_in_rgb():
    grey = np.random.default_rng(1).random((SHOWN, SIDE, SIDE)).astype(np.float32)
    rgb = np.repeat(grey[..., None], 3, axis=-1)
    assert (figures.reconstructions("ae", grey, grey[::-1], 0.1, 0.2, 16)
            == figures.reconstructions("ae", rgb, rgb[::-1], 0.1, 0.2, 16))
    assert (figures.denoised("ae", grey, grey, grey[::-1], 0.3, 0.0)
            == figures.denoised("ae", rgb, rgb, rgb[::-1], 0.3, 0.0))


def test_latent_map_takes_tab20_above_ten_classes():
    arrays = ae_arrays()
    classes = [f"c{k}" for k in range(12)]
    png = figures.latent_map(arrays["codes_xy"], arrays["pca_xy"], arrays["map_labels"], classes, 16, 16, 0.8, 0.7)
    assert all(pixel_count(png, tab_color("tab20", k)) for k in range(MAP_CLASSES))
    assert pixel_count(png, tab_color("tab10", 2)) == 0  # tab10 would give class 2 green, tab20 orange


def _truncated(path, arrays):
    files.write_arrays(path, arrays)
    path.write_bytes(path.read_bytes()[:300])


DAMAGES = {  # how autoencoder.npz can be missing or unusable
    "missing": lambda path, arrays: None,
    "not an npz": lambda path, arrays: path.write_bytes(b"not an npz"),
    "truncated": _truncated,
    "a key missing": lambda path, arrays: files.write_arrays(
        path, {k: v for k, v in arrays.items() if k != "noisy"}),
    "map of the wrong shape": lambda path, arrays: files.write_arrays(
        path, {**arrays, "codes_xy": arrays["codes_xy"][:, :1]}),
    "labels outside the classes": lambda path, arrays: files.write_arrays(
        path, {**arrays, "map_labels": arrays["map_labels"] + len(CLASSES)}),
}


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_an_autoencoder_run_without_a_usable_npz_still_reports_with_a_note(tmp_path, damage):
    out = tmp_path / "ae"
    cfg = autoencoder_comparison(out, None)
    DAMAGES[damage](out / cfg.run_id / runfolder.AUTOENCODER_FILE, ae_arrays())
    cmp = collect(out)
    blocks = autoencoder_blocks(cmp.runs[0], "autoencoder", cmp.classes)
    assert not any(isinstance(b, Figure) for b in blocks)
    notes = [b for b in blocks if isinstance(b, Text) and b.kind == "note"]
    assert len(notes) == 1 and runfolder.AUTOENCODER_FILE in notes[0].text
    assert len(blocks) == 2  # the probe's numbers stay


def test_report_is_rebuilt_when_the_pretrained_source_is_gone(tmp_path):
    gone = tmp_path / "deleted-source" / "mlp_adam_lr0.001_noaug_seed0" / "best.pt"
    out = tmp_path / "transfer"
    [cfg] = write_comparison(out, ["mlp"], {"pretrained": str(gone), "freeze": "backbone"},
                             {"pretrained": str(gone)})
    assert not gone.parent.parent.exists()
    cmp = collect(out)
    assert [r.run_id for r in cmp.runs] == [cfg.run_id] and cmp.runs[0].finished
    build_report(out)
    md = (out / "report.md").read_text()
    assert re.search(r"^### mlp$", md, re.M)  # the model's own section, from the run folder
    assert (out / "figures" / "mlp_confusion.png").is_file()


def test_runs_are_grouped_into_rows_by_the_one_row_key(tmp_path):
    out = tmp_path / "seeds"
    write_comparison(out, ["mlp"], {})
    # Three seeds of one configuration in grid.json; only seed 0's folder exists, so 1 and 2 count as failed.
    saved = files.read_json(out / "grid.json")
    saved["grid"]["seeds"] = [0, 1, 2]
    files.write_json(out / "grid.json", saved)
    cmp = collect(out)
    [row] = cmp.rows
    assert (row["n_seeds"], row["seeds"]) == (1, "0")
    assert [r.config["seed"] for r in cmp.runs_of(row)] == [0, 1, 2]
    assert [r.config["seed"] for r in cmp.finished_runs_of(row)] == [0]


def test_an_option_this_version_does_not_know_does_not_stop_the_report(tmp_path):
    out = tmp_path / "older"
    [cfg] = write_comparison(out, ["mlp"], {})
    saved = files.read_json(out / "grid.json")
    saved["grid"]["retired_option"] = 3  # written by another version of bakeoff
    files.write_json(out / "grid.json", saved)
    cmp = collect(out)
    assert [(r.run_id, r.finished) for r in cmp.runs] == [(cfg.run_id, True)]
