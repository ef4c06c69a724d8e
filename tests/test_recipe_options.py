"""Two options from the speed records that `--recipe fast` uses: progressive resizing and a whitened stem."""
import pytest
import torch

from bakeoff.config import RunConfig
from bakeoff.errors import ConfigError
from bakeoff.models.options import check_run
from bakeoff.data import load_dataset
from bakeoff.engine import epoch, loop
from bakeoff.engine.resize import epoch_sizes, resize_batch
from bakeoff.engine.whitening import patch_whitening_filters, whiten_stem
from bakeoff.models import create_model, models_with
from bakeoff.runs.runner import PreparedData, build_run, execute_run
from data_fixtures import tiny_images, write_npz


def test_sizes_grow_from_the_start_size_to_full_just_past_halfway():
    assert epoch_sizes(28, 20, 4) == [20, 24, 28, 28]
    assert epoch_sizes(28, 20, 12)[:7] == [20, 21, 23, 24, 25, 27, 28] and epoch_sizes(28, 20, 12)[6:] == [28] * 6
    assert epoch_sizes(28, 20, 2) == [20, 28]
    assert epoch_sizes(28, 20, 1) == [28]  # one epoch: the real size, nothing to grow
    assert epoch_sizes(28, None, 3) == [28] * 3 and epoch_sizes(8, 20, 3) == [8] * 3  # off, or no smaller size


def test_a_resized_batch_is_the_image_smaller_not_a_crop():
    x = torch.zeros(2, 1, 28, 28)
    x[:, :, :, 14:] = 1.0  # right half white
    small = resize_batch(x.contiguous(memory_format=torch.channels_last), 20)
    assert small.shape == (2, 1, 20, 20)
    assert small[..., :9].max() < 0.01 and small[..., 11:].min() > 0.99  # still half and half
    assert resize_batch(x, 28) is x


@pytest.mark.parametrize("name", models_with("any_size"))
def test_every_model_said_to_take_any_size_does(name):
    model = create_model(name, num_classes=3, in_chans=1, img_size=32).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 1, 24, 24)).shape == model(torch.randn(2, 1, 32, 32)).shape == (2, 3)


def test_training_sees_the_smaller_sizes_and_validation_the_real_one(monkeypatch, tmp_path):
    seen = []
    real = loop.run_epoch

    def spy(model, split, **kw):
        seen.append(("train" if kw.get("optimizer") else "eval", kw.get("size"), tuple(split.x.shape[-2:])))
        return real(model, split, **kw)

    monkeypatch.setattr(loop, "run_epoch", spy)  # training passes
    monkeypatch.setattr(epoch, "run_epoch", spy)  # and evaluate()'s
    x, y = tiny_images(100, size=16)
    path = write_npz(tmp_path / "tiny.npz", x[:80], y[:80], x[80:], y[80:])
    data = PreparedData.from_dataset(load_dataset(f"arrays:{path}"))
    cfg = RunConfig(dataset=f"arrays:{path}", model="fast-net-xs", epochs=4, progressive_resize=8, batch_size=32)
    execute_run(cfg, data, tmp_path / "run", quiet=True)
    assert [s for kind, s, _ in seen if kind == "train"] == [8, 12, 16, 16]
    assert {(s, shape) for kind, s, shape in seen if kind == "eval"} == {(None, (16, 16))}  # as the images are
    seen.clear()  # fast-net-xs pools 16x16 images three times: below 8x8 there would be nothing left to pool
    execute_run(RunConfig(**{**cfg.to_dict(), "progressive_resize": 4}), data, tmp_path / "run4", quiet=True)
    assert [s for kind, s, _ in seen if kind == "train"] == [8, 12, 16, 16]


def test_options_that_a_model_cannot_take_are_refused_in_one_line():
    with pytest.raises(ConfigError, match="pools globally.*basic-cnn does not"):
        check_run(RunConfig(model="basic-cnn", progressive_resize=20))
    with pytest.raises(ConfigError, match="whiten-stem works on fast-net"):
        check_run(RunConfig(model="resnet20", whiten_stem=True))
    with pytest.raises(ConfigError, match="4..512"):
        RunConfig(model="fast-net", progressive_resize=2)
    check_run(RunConfig(model="fast-net", progressive_resize=20, whiten_stem=True))  # fine


def test_whitening_filters_decorrelate_the_patches():
    torch.manual_seed(0)
    base = torch.randn(400, 1, 1, 1)
    images = base + 0.3 * torch.randn(400, 1, 10, 10)  # neighbouring pixels strongly correlated
    filters = patch_whitening_filters(images, 3, 18)
    assert filters.shape == (18, 1, 3, 3)
    torch.testing.assert_close(filters[9:], -filters[:9])  # pairs of opposite sign
    out = torch.nn.functional.conv2d(images, filters[:9], padding=1).transpose(0, 1).reshape(9, -1)
    cov = torch.cov(out)
    off = cov - torch.diag(torch.diag(cov))
    assert off.abs().max() < 0.05 * torch.diag(cov).max()  # decorrelated
    assert torch.diag(cov).min() > 0.3 * torch.diag(cov).max()  # and of comparable variance


def test_a_whitened_stem_is_set_from_training_images_and_stays_frozen(tmp_path):
    data = PreparedData.from_dataset(load_dataset("digits"))
    cfg = RunConfig(model="fast-net-xs", epochs=2, whiten_stem=True)
    run = build_run(cfg, data, torch.device("cpu"))
    stem = run.model.stem_conv()
    expected = patch_whitening_filters(run.train.x, 3, stem.out_channels)
    torch.testing.assert_close(stem.weight.detach(), expected)
    assert not stem.weight.requires_grad
    execute_run(cfg, data, tmp_path, quiet=True)
    from bakeoff.models.checkpoint import load_checkpoint

    saved = load_checkpoint(tmp_path / "best.pt")["state_dict"]["features.0.weight"]
    torch.testing.assert_close(saved, expected)  # training did not move it


def test_a_wide_stem_on_grey_images_keeps_its_extra_filters():
    model = create_model("fast-net", num_classes=3, in_chans=1, img_size=8)
    before = model.stem_conv().weight.detach().clone()
    whiten_stem(model, torch.randn(50, 1, 8, 8))
    after = model.stem_conv().weight.detach()
    assert not torch.equal(after[:18], before[:18]) and torch.equal(after[18:], before[18:])  # 2 x 9 whitened


def test_in_a_line_up_the_options_apply_to_the_models_that_take_them():
    from test_recipes import runs_for

    runs = runs_for("--models", "fast-net-s,basic-cnn", "--progressive-resize", "20", "--whiten-stem")
    taken = {r.model: (r.progressive_resize, r.whiten_stem) for r in runs}
    assert taken == {"fast-net-s": (20, True), "basic-cnn": (None, False)}
    fm = {r.model: r.whiten_stem for r in runs_for("--recipe", "fast", "--dataset", "fashion-mnist",
                                                   "--models", "fast-net-s,cnn4")}
    assert fm == {"fast-net-s": True, "cnn4": False}  # the recipe's whitened stem, where there is a stem
    (off,) = runs_for("--recipe", "fast", "--dataset", "fashion-mnist", "--no-whiten-stem")
    assert not off.whiten_stem  # the recipe's choice, turned off by a flag
    (cnn,) = runs_for("--recipe", "fast", "--dataset", "fashion-mnist", "--models", "cnn4")
    assert not cnn.whiten_stem  # the recipe's choice, for a line-up with no stem to whiten


def test_asking_for_an_option_no_model_of_the_line_up_takes_is_one_line_and_exit_2(tmp_path, capsys):
    from bakeoff.cli import main

    for flags, words in ((["--whiten-stem"], "whiten-stem works on fast-net"),
                         (["--progressive-resize", "20"], "pools globally")):
        code = main(["train", "--model", "cnn4", "--out", str(tmp_path / "out"), "--quiet", *flags])
        err = capsys.readouterr().err
        assert code == 2 and words in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()  # refused before anything was written
