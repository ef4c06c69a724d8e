"""Fashion-MNIST models on real photos, and the photo conversion's round trip, measured.

1. Trains (or reuses) Fashion-MNIST models from ../shared/datasets (or --data-dir): by default the `--recipe
   fast` network and cnn4, one seed each.
2. Round trip: the first --round-trip test images written as PNG files and sent through `bakeoff predict`,
   against `bakeoff evaluate` on the same images as tensors. A conversion that leaves images already in the
   dataset's domain alone scores the same.
3. Real photos: every model scored on clothing-photos' test/ folders mapped to Fashion-MNIST classes
   (pants=Trouser, t-shirt=T-shirt/top, shirt=Shirt, dress=Dress, outwear=Coat, longsleeve=Pullover; hat,
   shoes, shorts and skirt have no counterpart and are skipped), through predict's own preprocessing.
   With --train-photos the models also train on clothing-photos' train/ folder (4/5 of it; the other fifth is
   held out and reported as photo_val_acc), which never shares a photo with test/.

    python bench/fashion_photos.py --json fashion-photos.json
    python bench/fashion_photos.py --train-photos --out runs/bench-fashion-photos-trained --json trained.json
"""
from __future__ import annotations

from bakeoff.engine.process import configure_process

configure_process()  # as the command line does: before torch loads

import argparse  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from bakeoff.cli import main as bakeoff  # noqa: E402
from bakeoff.data import load_dataset  # noqa: E402
from results_file import write_json  # noqa: E402

CLASS_MAP = "pants=Trouser,outwear=Coat,longsleeve=Pullover"  # t-shirt, shirt, dress match by name


def round_trip(run_dir: Path, ds, n: int) -> dict:
    """Accuracy of `predict` on the first n test images saved as PNG, and on the same tensors."""
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(n):
            Image.fromarray(ds.x_test[i, 0].numpy()).save(Path(tmp) / f"{i:05d}.png")
        out = subprocess.run([sys.executable, "-m", "bakeoff", "predict", str(run_dir), tmp, "--json"],
                             capture_output=True, text=True, check=True).stdout
    classes = ds.classes
    predicted = [classes.index(json.loads(line)["top_k"][0]["label"]) for line in out.splitlines()]
    truth = ds.y_test[:n].numpy()
    ckpt_pred = np.load(run_dir / "predictions.npz")["y_pred"][:n]  # evaluate's own predictions, as tensors
    return {"n": n, "predict_acc": float(np.mean(np.asarray(predicted) == truth)),
            "tensor_acc": float(np.mean(ckpt_pred == truth)),
            "agreement": float(np.mean(np.asarray(predicted) == ckpt_pred))}


def held_out(m: dict) -> str:
    """', held-out train photos 80.9% of 487' where the run trained on photos."""
    if m.get("photo_val_acc") is None:
        return ""
    return f", held-out train photos {100 * m['photo_val_acc']:.2f}% of {m['n_photos_held_out']}"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[2] / "shared" / "datasets"))
    p.add_argument("--models", default="fast-net-s,cnn4", help="Fashion-MNIST models (default: fast-net-s,cnn4)")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--seeds", default="0", help="comma-separated seeds (default: 0)")
    p.add_argument("--train-photos", action="store_true",
                   help="also train on clothing-photos' train/ folder (--train-photos; default: the dataset alone)")
    p.add_argument("--round-trip", type=int, default=2000, help="test images in the round trip (default: 2000)")
    p.add_argument("--out", default="runs/bench-fashion-photos", help="the comparison folder (reruns reuse it)")
    p.add_argument("--json", help="write the results here")
    args = p.parse_args()
    out = Path(args.out)
    photos = Path(args.data_dir) / "clothing-photos" / "test"
    trained = ["--train-photos", str(photos.parent / "train")] if args.train_photos else []
    assert bakeoff(["compare", "--dataset", "fashion-mnist", "--data-dir", args.data_dir, "--models", args.models,
                    "--epochs", str(args.epochs), "--augment", "--schedule", "cosine", "--out", str(out), "--quiet",
                    "--seeds", args.seeds, "--real-photos", str(photos), "--class-map", CLASS_MAP, *trained]) == 0
    ds = load_dataset("fashion-mnist", data_dir=args.data_dir, quiet=True)
    results = []
    for run_dir in sorted(d for d in out.iterdir() if (d / "metrics.json").is_file()):
        m = json.loads((run_dir / "metrics.json").read_text())
        trip = round_trip(run_dir, ds, args.round_trip)
        row = {"run": run_dir.name, "test_acc": m["test_acc"], "real_acc": m.get("real_acc"), "n_real": m.get("n_real"),
               "photo_val_acc": m.get("photo_val_acc"), "n_photos_held_out": m.get("n_photos_held_out"),
               "train_seconds": m["train_seconds"], "round_trip": trip}
        results.append(row)
        print(f"{run_dir.name:<40} test {100 * m['test_acc']:.2f}%  real photos {100 * m['real_acc']:.2f}% "
              f"of {m['n_real']}{held_out(m)}  round trip: predict {100 * trip['predict_acc']:.2f}% vs tensors "
              f"{100 * trip['tensor_acc']:.2f}% on {trip['n']} images ({100 * trip['agreement']:.1f}% agree)",
              flush=True)
    if args.json:
        write_json(args.json, {"results": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
