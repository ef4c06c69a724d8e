"""What every run reports about its speed: images/s, s/epoch, counted training FLOPs and GFLOP/s, peak memory."""
import time

import pytest
import torch

from bakeoff.config import RunConfig
from bakeoff.data import load_dataset
from bakeoff.engine.memory import PeakMemory, rss_bytes
from bakeoff.engine.metrics import forward_mflops, train_mflops
from bakeoff.models import create_model
from bakeoff.runs.runner import PreparedData, execute_run


def test_a_run_reports_its_throughput_flops_and_peak_memory(tmp_path):
    data = PreparedData.from_dataset(load_dataset("digits"))
    m = execute_run(RunConfig(model="basic-cnn", epochs=2, seed=0), data, tmp_path, quiet=True)
    # images over the training passes' own seconds: above the whole run's rate (which adds validation and
    # checkpoints, 5-7% of this tiny run on a slow host), but not far above it
    whole_run_rate = 2 * m["n_train"] / m["train_seconds"]
    assert whole_run_rate <= m["images_per_s"] < 1.3 * whole_run_rate
    assert m["seconds_per_epoch"] == pytest.approx(m["train_seconds"] / 2)
    assert 2 * m["mflops"] < m["train_mflops"] <= 3 * m["mflops"]
    assert m["train_gflops_per_s"] == pytest.approx(m["train_mflops"] * m["images_per_s"] / 1e3)
    assert m["peak_memory_mb"] > 50 and m["peak_memory_kind"] == "process_rss"


def test_training_flops_are_forward_plus_backward_for_a_dense_layer():
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10, bias=False))
    fwd = forward_mflops(model, 1, 8)
    assert fwd == pytest.approx(2 * 64 * 10 / 1e6)
    # backward of the only layer: the weight gradient (as many FLOPs as forward), no input gradient needed
    assert train_mflops(model, 1, 8) == pytest.approx(2 * fwd)


def test_counting_training_flops_leaves_the_model_untouched():
    model = create_model("cnn4", num_classes=10, in_chans=1, img_size=28).eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    train_mflops(model, 1, 28)
    assert not model.training
    assert all(p.grad is None for p in model.parameters())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


@pytest.mark.skipif(rss_bytes() is None, reason="needs /proc/self/statm")
def test_peak_memory_sees_a_short_lived_allocation():
    with PeakMemory(torch.device("cpu")) as quiet:
        pass
    with PeakMemory(torch.device("cpu")) as busy:
        block = torch.ones(64 * 2**20 // 4)  # 64 MB, touched
        time.sleep(0.1)  # a few sampling periods
        del block
    assert busy.peak_mb - quiet.peak_mb > 48
