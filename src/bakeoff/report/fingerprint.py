"""Whether a comparison's report is current: a fingerprint of everything the report is drawn from.

`compare` rebuilds report.html only when its fingerprint changed, so a rerun with nothing to train returns in
seconds instead of redrawing every figure. The fingerprint is the size and modification time of grid.json,
OUT's own arrays (gradcam.npz, data-*.npz) and every file of every run folder (config.json, metrics.json,
history.csv, predictions.npz, best.pt, calibration.json, robustness.json, real_photos.npz, autoencoder.npz),
plus the version and the source files of the report code. It is stored beside the report, in
OUT/.report-fingerprint.json, after the report is written. `bakeoff report OUT` and `result.report(rebuild=True)`
always rebuild.
"""
from __future__ import annotations

from pathlib import Path

from .. import __version__, files
from ..store import runfolder

FINGERPRINT_FILE = ".report-fingerprint.json"
REPORT_FILES = ("report.html", "report.md")  # what a current report still has on disk


def _stat(path: Path) -> list[int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return [st.st_mtime_ns, st.st_size]


def _code() -> dict:
    """The bakeoff version and the report modules' sizes and times: a new version redraws the report."""
    here = Path(__file__).resolve().parent
    return {"version": __version__, "modules": {p.name: _stat(p) for p in sorted(here.glob("*.py"))}}


def fingerprint(out: Path, images: bool) -> dict:
    """What the report of OUT is drawn from, as {name: [mtime_ns, size]}; `images`: whether it shows the
    dataset's images (a report built where the dataset could not be loaded is redrawn where it can)."""
    out = Path(out)
    files: dict[str, list[int] | None] = {}
    for path in sorted(out.iterdir()) if out.is_dir() else ():
        if path.name.startswith("."):  # locks, temporary files of atomic writes, this fingerprint
            continue
        if path.is_file() and (path.name == runfolder.GRID_FILE or path.suffix == ".npz"):
            files[path.name] = _stat(path)
        elif path.is_dir() and (path / runfolder.CONFIG_FILE).is_file():  # a run folder, also one grid.json
            for f in sorted(path.iterdir()):  # does not name (the report lists those)
                if f.is_file() and not f.name.startswith(".") and f.name != runfolder.STATE_FILE:
                    files[f"{path.name}/{f.name}"] = _stat(f)
    return {"code": _code(), "images": images, "files": files}


def is_current(out: Path, images: bool | None) -> bool:
    """Whether OUT's report was built from exactly what OUT holds now (and its files are still there);
    `images`: whether it must show the dataset's images (None: either way)."""
    out = Path(out)
    if not all((out / name).is_file() for name in REPORT_FILES):
        return False
    saved = files.read_json(out / FINGERPRINT_FILE)
    if saved is None:
        return False
    return saved == fingerprint(out, saved.get("images") if images is None else images)


def save(out: Path, taken: dict) -> None:
    """Store the fingerprint `taken` before the report was drawn (a change while drawing redraws it next time)."""
    files.write_json(Path(out) / FINGERPRINT_FILE, taken)


def forget(out: Path) -> None:
    """Drop the fingerprint: the next compare rebuilds the report whatever it finds."""
    (Path(out) / FINGERPRINT_FILE).unlink(missing_ok=True)


__all__ = ["FINGERPRINT_FILE", "fingerprint", "forget", "is_current", "save"]
