"""examples/compare-in-a-notebook.ipynb runs end to end on a real Jupyter kernel (nbclient, ipykernel) started
from this venv's Python, and shows what it promises: the leaderboard as a DataFrame, the report inline,
predictions of the best model. On the bundled digits, 2 epochs, no robustness: well under a minute."""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "examples" / "compare-in-a-notebook.ipynb"
KERNEL = "bakeoff-test-python"


@pytest.fixture
def venv_kernel(tmp_path, monkeypatch) -> str:
    """A kernelspec that runs this Python (sys.executable), first on JUPYTER_PATH: a `python3` kernel of the
    user's or the system's can never stand in for the venv's; IPython's profile goes to tmp_path too."""
    spec = tmp_path / "jupyter" / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "bakeoff venv", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    return KERNEL


def _data(cell, mime: str) -> str:
    """The cell's result (execute_result or display_data) of this MIME type."""
    found = [o["data"][mime] for o in cell.get("outputs", []) if mime in o.get("data", {})]
    assert found, f"no {mime} output in cell:\n{cell.source}"
    return found[-1] if isinstance(found[-1], str) else "".join(found[-1])


def _stdout(cell) -> str:
    return "".join(o["text"] for o in cell.get("outputs", []) if o.get("name") == "stdout")


def _cell(nb, text: str):
    return next(c for c in nb.cells if c.cell_type == "code" and text in c.source)


def test_notebook_runs_on_a_real_kernel(tmp_path, venv_kernel):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    work = tmp_path / "work"
    work.mkdir()
    nb.cells.append(nbformat.v4.new_code_cell("import sys; print(sys.executable)"))  # which Python ran it
    client = nbclient.NotebookClient(nb, kernel_name=venv_kernel, timeout=300,
                                     resources={"metadata": {"path": str(work)}})
    client.execute()  # raises CellExecutionError, with the traceback, if any cell fails
    assert _stdout(nb.cells.pop()).strip() == sys.executable  # the venv's Python ran the notebook

    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors

    # the comparison ran here, under the notebook's folder
    out = work / "runs" / "notebook-digits"
    assert (out / "leaderboard.csv").is_file() and (out / "report.html").is_file()
    assert "ComparisonResult" in _data(_cell(nb, "result = bakeoff.compare("), "text/plain")

    # the leaderboard is a DataFrame, shown as Jupyter shows one: an HTML table with both models
    board = _data(_cell(nb, "result.leaderboard"), "text/html")
    assert 'class="dataframe"' in board and "<table" in board
    assert "mlp" in board and "simple-cnn" in board and "val_acc" in board

    # the report inline: the whole report.html in an iframe, nothing of it able to restyle the notebook
    report = _data(_cell(nb, "result.report()"), "text/html")
    assert report.startswith("<iframe srcdoc=") and 'title="bakeoff report"' in report
    page = (out / "report.html").read_text(encoding="utf-8")
    assert len(report) > len(page)  # the page, escaped, inside the srcdoc attribute
    assert "simple-cnn" in report and "<h1" not in report  # escaped: &lt;h1 ...

    # predictions: the best model on 8 test digits, one line each, mostly right after 2 epochs
    printed = _stdout(_cell(nb, "model.predict(")).splitlines()
    assert printed[0].startswith("TrainedModel(")
    lines = [re.fullmatch(r"true (\d): predicted (\d) \((\d+)%\)", line) for line in printed[1:]]
    assert len(lines) == 8 and all(lines), printed
    assert sum(m[1] == m[2] for m in lines) >= 4, printed
    assert all(0 <= int(m[3]) <= 100 for m in lines)
    # ...and drawn: one PNG figure
    assert _data(_cell(nb, "plt.subplots"), "image/png")
