"""The report across datasets: ranks, Friedman against scipy, Nemenyi against Demšar's critical difference,
and the files it writes, from comparison folders made by hand in the formats bakeoff writes."""
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from bakeoff.errors import BakeoffError
from bakeoff.store.leaderboard import write_leaderboard
from bakeoff.report import build_cross_dataset_report
from bakeoff.report.friedman import critical_difference, rank_models

# Test accuracy per dataset (rows) and model (columns): ranks [1,2,3], [1,3,2], [1,2,3], [2,1,3]
ACCURACY = {"digits": {"mlp": 0.90, "simple-cnn": 0.80, "cnn4": 0.70},
            "mnist": {"mlp": 0.95, "simple-cnn": 0.85, "cnn4": 0.90},
            "fashion-mnist": {"mlp": 0.85, "simple-cnn": 0.80, "cnn4": 0.75},
            "cifar10": {"mlp": 0.50, "simple-cnn": 0.60, "cnn4": 0.40}}


def test_friedman_matches_scipy_and_the_textbook_formula():
    acc = np.array([[d[m] for m in ("mlp", "simple-cnn", "cnn4")] for d in ACCURACY.values()])  # (4, 3)
    test = rank_models(acc, ["mlp", "simple-cnn", "cnn4"], list(ACCURACY))
    assert test.average_ranks == pytest.approx([1.25, 2.0, 2.75])
    # No ties: chi2 = 12 N / (k (k+1)) * sum(R_j^2) - 3 N (k+1) = 4 * 13.125 - 48 = 4.5
    assert test.statistic == pytest.approx(4.5)
    reference = stats.friedmanchisquare(acc[:, 0], acc[:, 1], acc[:, 2])
    assert test.statistic == pytest.approx(reference.statistic)
    assert test.p_value == pytest.approx(reference.pvalue)
    assert test.nemenyi.shape == (3, 3) and np.allclose(test.nemenyi, test.nemenyi.T)


def test_ties_share_the_mean_rank():
    test = rank_models(np.array([[0.9, 0.9, 0.5]] * 3), ["a", "b", "c"], ["x", "y", "z"])
    assert test.ranks[0] == pytest.approx([1.5, 1.5, 3])


def test_critical_difference_is_demsars_and_agrees_with_nemenyi():
    # Demšar (2006), table 5(a): q_0.05 = 2.343 for 3 classifiers, 2.569 for 4
    assert critical_difference(3, 10) == pytest.approx(2.343 * np.sqrt(3 * 4 / 60), rel=1e-3)
    assert critical_difference(4, 10) == pytest.approx(2.569 * np.sqrt(4 * 5 / 60), rel=1e-3)
    rng = np.random.default_rng(0)
    acc = rng.uniform(0.5, 0.6, size=(12, 4)) + np.array([0.3, 0.2, 0.1, 0.0])  # a clear order, some noise
    acc[:5] = rng.uniform(0.5, 0.9, size=(5, 4))
    test = rank_models(acc, list("abcd"), [str(i) for i in range(12)])
    gaps = np.abs(test.average_ranks[:, None] - test.average_ranks[None, :])
    off = ~np.eye(4, dtype=bool)
    assert (test.nemenyi[off] < 0.05).any() and (test.nemenyi[off] >= 0.05).any()  # both kinds of pair occur
    assert np.array_equal((gaps > test.critical_difference)[off], (test.nemenyi < 0.05)[off])


def make_comparison(root: Path, dataset: str, accuracy: dict[str, float], lrs=(0.001,), failed=()) -> Path:
    """A comparison folder as compare leaves it: grid.json, leaderboard.csv (and leaderboard.md), report.html."""
    out = root / dataset
    out.mkdir(parents=True)
    grid = {"models": list(accuracy), "optimizers": ["adam"], "lrs": list(lrs), "augment": [False], "seeds": [0]}
    card = {"name": dataset, "classes": [str(i) for i in range(10)], "n_train": 1000, "n_test": 200,
            "shape": [1, 8, 8], "source": "made by hand"}
    (out / "grid.json").write_text(json.dumps({"grid": grid, "dataset": card, "versions": {}}))
    rows = []
    for model, acc in accuracy.items():
        for lr in lrs:
            row = {"model": model, "optimizer": "adam", "lr": lr, "augment": False, "n_seeds": 1, "seeds": "0",
                   "val_acc": acc + 0.01, "val_loss": 1 - acc, "test_acc_mean": acc - (lr > 0.001) * 0.05,
                   "params": 1000, "train_seconds": 1.5, "failed": ""}
            if model in failed:
                row = {**{k: row[k] for k in ("model", "optimizer", "lr", "augment")}, "n_seeds": 0, "seeds": "",
                       "failed": "seed 0: diverged"}
            rows.append(row)
    rows.sort(key=lambda r: -(r.get("val_acc") or 0))
    write_leaderboard(rows, out)
    (out / "report.html").write_text("<!doctype html><title>its own report</title>")
    return out


class Tables(HTMLParser):
    """report.html's tables by id: rows of cell texts (header row first), and the hrefs of links in cells."""

    def __init__(self, text: str):
        super().__init__()
        self.tables, self.links, self.images, self._rows, self._cell = {}, [], [], None, None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self._rows = self.tables.setdefault(a.get("id", f"table{len(self.tables)}"), [])
        elif tag == "tr" and self._rows is not None:
            self._rows.append([])
        elif tag in ("td", "th") and self._rows is not None:
            self._cell = ""
        elif tag == "a":
            self.links.append(a["href"])
        elif tag == "img":
            self.images.append(a["alt"])

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._rows[-1].append(self._cell)
            self._cell = None
        elif tag == "table":
            self._rows = None


def read_tables(out: Path) -> Tables:
    return Tables((out / "report.html").read_text())


def test_report_ranks_the_models_and_links_each_dataset(tmp_path):
    dirs = [make_comparison(tmp_path, name, acc) for name, acc in ACCURACY.items()]
    html = build_cross_dataset_report(tmp_path / "across", dirs)
    assert html == tmp_path / "across" / "report.html"
    assert (tmp_path / "across" / "report.md").is_file()
    assert (tmp_path / "across" / "figures" / "critical_difference.png").is_file()
    page = read_tables(tmp_path / "across")
    ranks = page.tables["average-ranks"]
    assert ranks[0][:2] == ["model", "average rank"]
    assert [(r[0], r[1]) for r in ranks[1:]] == [("mlp", "1.25"), ("simple-cnn", "2.00"), ("cnn4", "2.75")]
    assert ranks[1][2] == "90.00 (1)"  # mlp on digits: test accuracy and rank there
    friedman = dict(page.tables["friedman-test"][1:])
    assert friedman["Friedman chi-square"].startswith("4.500")
    assert float(friedman["p"]) == pytest.approx(stats.chi2.sf(4.5, 2), abs=0.005)  # shown to 2 digits: 0.11
    assert [r[0] for r in page.tables["nemenyi-p-values"][1:]] == ["mlp", "simple-cnn", "cnn4"]
    assert any(alt.startswith("Critical-difference diagram") for alt in page.images)
    assert sorted(h for h in page.links if not h.startswith("#")) == sorted(f"../{n}/report.html" for n in ACCURACY)
    for name in ACCURACY:
        assert f"leaderboard-{name}" in page.tables
    ids = re.findall(r'id="([^"]+)"', html.read_text())
    assert len(ids) == len(set(ids))  # every section and table addressable apart
    md = (tmp_path / "across" / "report.md").read_text()
    assert "| mlp | **1.25** |" in md and "(../digits/report.html)" in md


def test_two_datasets_are_reported_but_not_tested(tmp_path):
    dirs = [make_comparison(tmp_path, name, ACCURACY[name]) for name in ("digits", "mnist")]
    build_cross_dataset_report(tmp_path / "across", dirs)
    page = read_tables(tmp_path / "across")
    assert "average-ranks" in page.tables
    assert "nemenyi-p-values" not in page.tables and "friedman-test" not in page.tables
    assert "needs at least 3 models and 3 datasets" in (tmp_path / "across" / "report.html").read_text()
    assert not (tmp_path / "across" / "figures" / "critical_difference.png").exists()


def test_two_models_are_reported_but_not_tested(tmp_path):
    dirs = [make_comparison(tmp_path, name, {m: acc[m] for m in ("mlp", "cnn4")}) for name, acc in ACCURACY.items()]
    build_cross_dataset_report(tmp_path / "across", dirs)
    text = (tmp_path / "across" / "report.md").read_text()
    assert "needs at least 3 models and 3 datasets to say anything (here 2 models on 4 datasets)" in text


def test_a_model_missing_on_one_dataset_is_named_and_left_out(tmp_path):
    dirs = [make_comparison(tmp_path, name, {**acc, **({"resnet20": 0.99} if name != "mnist" else {})},
                            failed=("cnn4",) if name == "cifar10" else ()) for name, acc in ACCURACY.items()]
    build_cross_dataset_report(tmp_path / "across", dirs)
    page = read_tables(tmp_path / "across")
    assert [r[0] for r in page.tables["average-ranks"][1:]] == ["mlp", "simple-cnn"]
    text = (tmp_path / "across" / "report.md").read_text()
    assert "resnet20 has no finished run on mnist, so it is left out" in text
    assert "cnn4 has no finished run on cifar10, so it is left out" in text
    # Still listed in its dataset's own leaderboard, without a rank
    digits = {r[0]: r for r in page.tables["leaderboard-digits"][1:]}
    assert digits["resnet20"][4] == "" and digits["mlp"][4] == "1"


def test_a_model_is_its_configuration_less_the_dataset(tmp_path):
    dirs = [make_comparison(tmp_path, name, acc, lrs=(0.001, 0.01)) for name, acc in ACCURACY.items()]
    build_cross_dataset_report(tmp_path / "across", dirs)
    models = [r[0] for r in read_tables(tmp_path / "across").tables["average-ranks"][1:]]
    assert len(models) == 6 and "mlp · lr 0.001" in models and "mlp · lr 0.01" in models


def test_the_same_dataset_twice_is_told_apart_by_folder(tmp_path):
    dirs = [make_comparison(tmp_path / "a", "digits", ACCURACY["digits"]),
            make_comparison(tmp_path / "b", "digits", ACCURACY["mnist"]),
            make_comparison(tmp_path, "mnist", ACCURACY["mnist"])]
    build_cross_dataset_report(tmp_path / "across", dirs)
    header = read_tables(tmp_path / "across").tables["average-ranks"][0]
    assert header[2:] == ["digits (a/digits): test acc % (rank)", "digits (b/digits): test acc % (rank)",
                          "mnist: test acc % (rank)"]


def test_bad_folders_fail_with_one_clear_line(tmp_path):
    good = [make_comparison(tmp_path, name, ACCURACY[name]) for name in ("digits", "mnist")]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(BakeoffError, match="no grid.json here"):
        build_cross_dataset_report(tmp_path / "across", good + [empty])
    with pytest.raises(BakeoffError, match="at least 2 comparison folders"):
        build_cross_dataset_report(tmp_path / "across", good[:1])
    with pytest.raises(BakeoffError, match="one of the comparison folders"):
        build_cross_dataset_report(good[0], good)
    with pytest.raises(BakeoffError, match="named twice"):
        build_cross_dataset_report(tmp_path / "across", [good[0], good[0], good[1]])
