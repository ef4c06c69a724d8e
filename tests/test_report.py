"""The comparison report: sections, figures and numbers checked against the run files, and the page in a real browser."""
import base64
import csv
import io
import json
import math
import re
import shutil
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from bakeoff.cli import main
from bakeoff.engine.metrics import count_params
from bakeoff.models import create_model, list_models
from bakeoff.report.stats import bootstrap_diff_interval, mcnemar_exact, paired_test, pareto_front
from bakeoff.report.summary import summarize

CHROMIUM = Path("/usr/bin/chromium")
SECTIONS = ["summary", "dataset", "setup", "leaderboard", "significance", "curves", "cost", "models", "model-mlp",
            "model-simple-cnn", "disagreements"]


@pytest.fixture(scope="module")
def comparison(tmp_path_factory):
    """2 models x 2 seeds, 1 epoch on digits: the report is written by `compare` itself."""
    out = tmp_path_factory.mktemp("report") / "cmp"
    assert main(["compare", "--models", "mlp,simple-cnn", "--seeds", "0,1", "--epochs", "1", "--out", str(out),
                 "--quiet"]) == 0
    return out


class Page(HTMLParser):
    """The bits of report.html the tests look at: section ids and headings, notes per section, tables (text,
    data-sort, class), images."""

    def __init__(self, text: str):
        super().__init__()
        self.sections, self.headings, self.images, self.tables, self.notes = [], [], [], {}, {}
        self._table = self._row = self._cell = self._text = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "section":
            self.sections.append(a["id"])
        elif tag in ("h2", "h3") or (tag == "p" and a.get("class") == "note"):
            self._text = [tag, ""]
        elif tag == "img":
            self.images.append(a)
        elif tag == "table":
            self._table = self.tables.setdefault(a.get("id", f"table{len(self.tables)}"), {"head": [], "rows": []})
        elif tag == "tr" and self._table is not None:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = {"tag": tag, "text": "", "sort": a.get("data-sort"), "class": a.get("class", "")}

    def handle_data(self, data):
        if self._cell is not None:
            self._cell["text"] += data
        if self._text is not None:
            self._text[1] += data

    def handle_endtag(self, tag):
        if self._text is not None and tag == self._text[0]:
            tag, text = self._text
            if tag == "p":
                self.notes.setdefault(self.sections[-1], []).append(text)
            else:
                self.headings.append((int(tag[1]), text))
            self._text = None
        elif tag in ("td", "th") and self._cell is not None:
            self._row.append(self._cell)
            self._cell = None
        elif tag == "tr" and self._row is not None:
            if self._row and self._row[0]["tag"] == "th":
                self._table["head"] = [c["text"] for c in self._row]
            else:
                self._table["rows"].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None

    def column(self, table: str, header: str) -> list[dict]:
        t = self.tables[table]
        i = t["head"].index(header)
        return [row[i] for row in t["rows"]]


def read_page(out: Path) -> Page:
    return Page((out / "report.html").read_text())


def read_csv(path: Path) -> list[dict]:
    with open(path) as f:
        return list(csv.DictReader(f))


def predictions(run_dir: Path) -> dict:
    with np.load(run_dir / "predictions.npz") as z:
        return {k: z[k] for k in z.files}


def test_compare_writes_a_self_contained_report_with_every_section(comparison):
    html = (comparison / "report.html").read_text()
    page = Page(html)
    for section in SECTIONS:
        assert section in page.sections, section
    assert "sweep" not in page.sections  # one optimizer, one learning rate: no heatmap
    # Offline: every picture is inline, nothing points outside the file.
    assert page.images and all(img["src"].startswith("data:image/png;base64,") for img in page.images)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "<link" not in html and "@import" not in html and "url(" not in html
    assert "Content-Security-Policy" in html
    assert len({img["alt"] for img in page.images}) == len(page.images) >= 13  # each picture described apart
    for img in page.images:
        png = Image.open(io.BytesIO(base64.b64decode(img["src"].split(",", 1)[1])))
        assert png.format == "PNG" and png.width >= 200 and png.height >= 100
        assert (int(img["width"]), int(img["height"])) == png.size or int(img["width"]) < png.width
    ids = set(re.findall(r'<figure id="fig-([^"]+)"', html))
    assert {"dataset_samples", "learning_curves", "cost_accuracy", "mlp_confusion", "mlp_samples",
            "mlp_top_losses", "mlp_runs", "simple-cnn_confusion", "disagree_best_right"} <= ids


def test_markdown_twin_links_figure_files_that_exist(comparison):
    md = (comparison / "report.md").read_text()
    links = re.findall(r"!\[[^\]]*\]\((figures/[^)]+\.png)\)", md)
    assert len(links) >= 13
    for link in links:
        assert Image.open(comparison / link).format == "PNG"
    # The same sections, in the same order and nesting, as the page.
    headings = [(len(h), t.replace("\\_", "_")) for h, t in re.findall(r"^(##+) (.+)$", md, re.M)]
    assert headings == read_page(comparison).headings


def test_leaderboard_file_and_report_show_the_same_values(comparison):
    """leaderboard.md and the report's table format every column alike (leaderboard.fmt)."""
    from bakeoff.report.ranking import columns_for

    lines = [line for line in (comparison / "leaderboard.md").read_text().splitlines() if line.startswith("| ")]
    keys = [c.strip() for c in lines[0].strip("|").split("|")]
    md_rows = [dict(zip(keys, (c.strip() for c in line.strip("|").split("|")))) for line in lines[1:]]
    page = read_page(comparison)
    shown = columns_for([])  # not scored on real photos: the columns of a plain comparison
    html_rows = [{key: row[i]["text"] for i, (key, _, _) in enumerate(shown)}
                 for row in page.tables["leaderboard-table"]["rows"]]
    assert len(md_rows) == len(html_rows) == 2
    for md_row, html_row in zip(md_rows, html_rows):
        assert html_row["test_acc_mean"] == f"{md_row['test_acc_mean']} ± {md_row['test_acc_std']}"
        shared = [k for k in keys if k in html_row and k != "test_acc_mean"]
        assert set(shared) == {key for key, _, _ in shown} - {"test_acc_mean", "failed"}
        assert {k: html_row[k] for k in shared} == {k: md_row[k] for k in shared}


def test_leaderboard_values_and_highlights_match_the_run_files(comparison):
    page = read_page(comparison)
    rows = read_csv(comparison / "leaderboard.csv")
    table = page.tables["leaderboard-table"]
    assert len(table["rows"]) == len(rows) == 2
    for i, (row, csv_row) in enumerate(zip(table["rows"], rows)):
        cells = dict(zip(table["head"], row))
        assert cells["model"]["text"] == csv_row["model"]
        assert cells["val acc (%)"]["text"] == f"{100 * float(csv_row['val_acc']):.2f}"
        mean, std = float(csv_row["test_acc_mean"]), float(csv_row["test_acc_std"])
        assert cells["test acc (%)"]["text"] == f"{100 * mean:.2f} ± {100 * std:.2f}"
        assert float(cells["test acc (%)"]["sort"]) == pytest.approx(mean)
        cost = dict(zip(page.tables["leaderboard-cost"]["head"], page.tables["leaderboard-cost"]["rows"][i]))
        assert cost["model"]["text"] == csv_row["model"]  # the cost table keeps the leaderboard's order
        assert cost["params"]["text"] == f"{int(csv_row['params']):,}"
        # The mean over seeds is the mean of the metrics files.
        accs = [json.loads((comparison / f"{csv_row['model']}_adam_lr0.001_noaug_seed{s}" / "metrics.json")
                           .read_text())["test_acc"] for s in (0, 1)]
        assert mean == pytest.approx(sum(accs) / 2)
    val = page.column("leaderboard-table", "val acc (%)")
    best = max(range(2), key=lambda i: float(val[i]["sort"]))
    assert "best" in val[best]["class"] and "best" not in val[1 - best]["class"]
    assert "params" not in table["head"]  # cost columns have their own table
    params = page.column("leaderboard-cost", "params")
    smallest = min(range(2), key=lambda i: float(params[i]["sort"]))
    assert "best" in params[smallest]["class"]


def test_significance_is_mcnemar_on_the_saved_predictions(comparison):
    page = read_page(comparison)
    rows = read_csv(comparison / "leaderboard.csv")
    best, other = rows[0]["model"], rows[1]["model"]
    table = page.tables["significance"]
    assert [c["text"] for c in page.column("significance", "seed")] == ["0", "1"]
    for row in table["rows"]:
        cells = dict(zip(table["head"], row))
        seed = cells["seed"]["text"]
        a = predictions(comparison / f"{best}_adam_lr0.001_noaug_seed{seed}")
        b = predictions(comparison / f"{other}_adam_lr0.001_noaug_seed{seed}")
        ca, cb = a["y_pred"] == a["y_true"], b["y_pred"] == b["y_true"]
        only_a, only_b = int(np.sum(ca & ~cb)), int(np.sum(cb & ~ca))
        assert cells["only best right"]["text"] == str(only_a)
        assert cells["only other right"]["text"] == str(only_b)
        p = float(cells["p (McNemar exact)"]["sort"])
        assert p == pytest.approx(mcnemar_exact(only_a, only_b))
        # Holm over the table's two tests (one per seed): the smaller p doubled, the larger kept at least as large.
        p_holm = float(cells["p (Holm)"]["sort"])
        assert p <= p_holm <= min(1.0, 2 * p) + 1e-12
        verdict = cells["at 0.05 (Holm)"]["text"]
        assert verdict == ("cannot be told apart" if p_holm >= 0.05 else f"{best if only_a > only_b else other} is better")


def test_per_class_scores_are_scikit_learns_on_the_shown_run(comparison):
    from sklearn.metrics import precision_recall_fscore_support

    page = read_page(comparison)
    html = (comparison / "report.html").read_text()
    run_id = re.search(r"Run (mlp_adam_lr0\.001_noaug_seed\d): test accuracy", html).group(1)
    pred = predictions(comparison / run_id)
    p, r, f, support = precision_recall_fscore_support(pred["y_true"], pred["y_pred"], labels=list(range(10)),
                                                       zero_division=0)
    rows = page.tables["per-class-mlp"]["rows"]
    assert [c[0]["text"] for c in rows[:10]] == [str(k) for k in range(10)]
    for k in range(10):
        assert [float(c["sort"]) for c in rows[k][1:4]] == pytest.approx([p[k], r[k], f[k]])
        assert float(rows[k][4]["sort"]) == support[k]
    # The run shown is the seed with the best validation accuracy.
    vals = {s: json.loads((comparison / f"mlp_adam_lr0.001_noaug_seed{s}" / "metrics.json").read_text())["val_acc"]
            for s in (0, 1)}
    assert run_id.endswith(f"seed{max(vals, key=lambda s: (vals[s], -s))}")


def test_layer_table_lists_every_parameter(comparison):
    page = read_page(comparison)
    for model in ("mlp", "simple-cnn"):
        rows = page.tables[f"layers-{model}"]["rows"]
        total = sum(int(float(r[3]["sort"])) for r in rows)
        assert total == count_params(create_model(model, num_classes=10, in_chans=1, img_size=8))
        assert rows[-1][2]["text"] == "(B, 10)"  # the logits


def test_report_command_rebuilds_from_the_run_folders_alone(comparison, tmp_path, capsys):
    copy = tmp_path / "copy"
    shutil.copytree(comparison, copy)
    for name in ("report.html", "report.md"):
        (copy / name).unlink()
    shutil.rmtree(copy / "figures")
    stamps = {p: p.stat().st_mtime_ns for p in copy.glob("*/metrics.json")}
    assert main(["report", str(copy)]) == 0
    assert f"report: {copy / 'report.html'}" in capsys.readouterr().out
    assert read_page(copy).sections == read_page(comparison).sections
    assert (copy / "figures" / "learning_curves.png").is_file()
    assert {p: p.stat().st_mtime_ns for p in copy.glob("*/metrics.json")} == stamps  # nothing retrained


def test_single_seed_report_has_no_spread_and_says_why(comparison, tmp_path):
    single = tmp_path / "single"
    single.mkdir()
    for run in comparison.glob("*_seed0"):
        shutil.copytree(run, single / run.name)
    grid = json.loads((comparison / "grid.json").read_text())
    grid["grid"]["seeds"] = [0]
    (single / "grid.json").write_text(json.dumps(grid))
    assert main(["report", str(single)]) == 0
    page = read_page(single)
    assert all("±" not in c["text"] for c in page.column("leaderboard-table", "test acc (%)"))
    assert [c["text"] for c in page.column("significance", "seed")] == ["0"]
    # With one seed, the leaderboard and the tests say how to measure the spread; with two they need not.
    both = read_page(comparison)
    for section in ("leaderboard", "significance"):
        assert any("--seeds" in note for note in page.notes[section]), section
        assert not any("--seeds" in note for note in both.notes[section]), section


def test_failed_runs_and_a_learning_rate_sweep(tmp_path):
    out = tmp_path / "sweep"
    assert main(["compare", "--models", "mlp", "--optimizers", "sgd", "--lrs", "1e12,0.01", "--epochs", "1",
                 "--out", str(out), "--quiet"]) == 0
    page = read_page(out)
    assert "sweep" in page.sections  # two learning rates: the heatmap is drawn
    failed = page.tables["failed-runs"]["rows"]
    assert len(failed) == 1 and failed[0][0]["text"] == "mlp_sgd_lr1e+12_noaug_seed0"
    metrics = json.loads((out / "mlp_sgd_lr1e+12_noaug_seed0" / "metrics.json").read_text())
    assert metrics["status"] == "failed"
    assert (failed[0][1]["text"], failed[0][2]["text"]) == ("failed", metrics["reason"])  # the run's own reason
    assert "significance" not in page.tables  # one configuration finished: nothing to test it against
    assert "disagreements" not in page.sections


def test_dataset_gone_at_report_time_leaves_out_the_images(tmp_path, capsys):
    from data_fixtures import tiny_images, write_npz

    x, y = tiny_images(120, size=12, num_classes=3)
    npz = write_npz(tmp_path / "tiny.npz", x[:90], y[:90], x[90:], y[90:], classes=["a", "b", "c"])
    out = tmp_path / "arr"
    assert main(["compare", "--dataset", f"arrays:{npz}", "--models", "mlp", "--seeds", "0,1", "--epochs", "1",
                 "--out", str(out), "--quiet"]) == 0
    html = (out / "report.html").read_text()
    assert "fig-mlp_samples" in html and "fig-dataset_samples" in html
    assert read_page(out).notes.get("dataset", []) == []
    npz.unlink()
    assert main(["report", str(out)]) == 0
    html = (out / "report.html").read_text()
    assert "fig-mlp_samples" not in html and "fig-dataset_samples" not in html and "fig-mlp_confusion" in html
    assert len(read_page(out).notes["dataset"]) == 1  # why there are no sample images


def test_report_on_a_folder_that_is_not_a_comparison_is_one_line(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nothing")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no grid.json" in err


# --- the numbers behind the verdicts ----------------------------------------------------------------------------

@pytest.mark.parametrize("only_a,only_b", [(0, 0), (3, 0), (10, 4), (6, 6), (89, 6), (1200, 1100)])
def test_mcnemar_exact_equals_scipys_binomial_test(only_a, only_b):
    from scipy.stats import binomtest

    expected = 1.0 if only_a + only_b == 0 else binomtest(min(only_a, only_b), only_a + only_b, 0.5).pvalue
    assert mcnemar_exact(only_a, only_b) == pytest.approx(expected, rel=1e-9)


def test_paired_test_counts_and_interval():
    a = np.array([1, 1, 1, 0, 0, 1, 1, 1, 0, 1] * 30, bool)
    b = np.array([1, 0, 1, 0, 1, 1, 0, 1, 0, 1] * 30, bool)
    t = paired_test(a, b)
    assert (t.n, t.only_a, t.only_b) == (300, 60, 30)
    assert t.diff == pytest.approx(0.1)
    assert t.ci_low < 0.1 < t.ci_high
    # The multinomial bootstrap is the image bootstrap: its spread matches the normal approximation.
    se = math.sqrt((60 + 30) / 300 - 0.1 ** 2) / math.sqrt(300)
    assert t.ci_high - t.ci_low == pytest.approx(2 * 1.96 * se, rel=0.15)
    assert bootstrap_diff_interval(0, 0, 50) == (0.0, 0.0)


def test_pareto_front():
    costs = [1.0, 2.0, 3.0, 0.5, 2.5]
    scores = [0.80, 0.90, 0.85, 0.70, 0.95]
    assert pareto_front(costs, scores) == [3, 0, 1, 4]  # 2 is beaten by 1 (cheaper, better)


# --- the layer table over the whole zoo ------------------------------------------------------------------------

@pytest.mark.parametrize("name", list_models())
def test_layer_table_adds_up_for_every_registered_model(name):
    s = summarize(name, num_classes=10, in_chans=1, img_size=8)  # digits-sized: quick for the deep ResNets
    assert sum(r.params for r in s.layers) == s.total
    called = [r for r in s.layers if r.shape]
    assert called[-1].shape == (10,)  # the logits


@pytest.mark.parametrize("name", ["mlp", "cnn4", "resnet20"])
def test_layer_table_matches_a_real_model(name):
    model = create_model(name, num_classes=10, in_chans=1, img_size=28)
    assert summarize(name, num_classes=10, in_chans=1, img_size=28).total == count_params(model)
    assert tuple(model(torch.zeros(2, 1, 28, 28)).shape[1:]) == (10,)


def test_layer_table_reproduces_seed_004s_keras_summary():
    s = summarize("simple-cnn", num_classes=10, in_chans=1, img_size=28)
    assert s.total == 29_306_282  # the seed's Keras summary
    assert [(r.kind, r.shape, r.params) for r in s.layers if r.params] == [
        ("Conv2d", (32, 26, 26), 320), ("Linear", (5408,), 5408 * 5408 + 5408), ("Linear", (10,), 54090)]


# --- the page in a real browser -------------------------------------------------------------------------------

BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (make browser)")
def test_report_in_headless_chromium_offline_sortable(comparison, tmp_path):
    playwright = pytest.importorskip("playwright.sync_api", reason="pip install -e '.[test]' for playwright")
    problems, urls = [], []
    with playwright.sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
        browser = p.chromium.launch_persistent_context(profile, executable_path=str(CHROMIUM), args=BROWSER_ARGS,
                                                       headless=True, viewport={"width": 1280, "height": 900})
        try:
            page = browser.new_page()
            page.on("console", lambda m: problems.append(f"{m.type}: {m.text}") if m.type in ("error", "warning")
                    else None)
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on("request", lambda r: urls.append(r.url))
            page.goto((comparison / "report.html").resolve().as_uri(), wait_until="load")
            assert page.evaluate("Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")
            assert page.evaluate("document.images.length") >= 13

            def column(header):
                i = page.evaluate("h => Array.from(document.querySelectorAll('#leaderboard-table thead th'))"
                                  ".findIndex(th => th.textContent === h)", header)
                return page.evaluate(f"Array.from(document.querySelectorAll('#leaderboard-table tbody tr'))"
                                     f".map(r => r.cells[{i}].getAttribute('data-sort'))")

            csv_rows = read_csv(comparison / "leaderboard.csv")
            assert [float(v) for v in column("val acc (%)")] == [float(r["val_acc"]) for r in csv_rows]
            header = page.locator("#leaderboard-table thead th", has_text="val acc")
            header.click()
            assert header.get_attribute("aria-sort") == "ascending"
            ascending = [float(v) for v in column("val acc (%)")]
            assert ascending == sorted(float(r["val_acc"]) for r in csv_rows)
            header.click()
            assert [float(v) for v in column("val acc (%)")] == ascending[::-1]
            page.locator("#leaderboard-table thead th", has_text="model").click()
            assert column("model") == sorted(r["model"] for r in csv_rows)
            shot = tmp_path / "report.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert not problems, problems
    assert urls and all(u.startswith(("file://", "data:")) for u in urls), urls
    assert Image.open(shot).size[0] == 1280 and shot.stat().st_size > 50_000
