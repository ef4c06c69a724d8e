"""Forward passes shared by concurrent requests (serve/batching.py): alone, then through the app over HTTP."""
import contextlib
import io
import threading
import time

import anyio
import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from bakeoff.cli import main
from bakeoff.serve.app import create_app
from bakeoff.serve.batching import Batcher, BatcherClosed, BatchFailed
from bakeoff.serve.predictor import Predictor
from serve_fixtures import digit_photo, untrained_mlp_run

WEIGHTS = np.random.default_rng(0).normal(size=(2 * 3 * 3, 5)).astype(np.float32)


class Recording:
    """A forward (B, 2, 3, 3) -> (B, 5) that logs each batch's size and fails a batch holding a NaN view."""

    def __init__(self, delay: float = 0.0):
        self.sizes: list[int] = []
        self.delay = delay

    def __call__(self, x: np.ndarray) -> np.ndarray:
        assert x.dtype == np.float32 and x.shape[1:] == (2, 3, 3)
        self.sizes.append(len(x))
        time.sleep(self.delay)
        if np.isnan(x).any():
            raise RuntimeError("NaN in the input")
        return x.reshape(len(x), -1) @ WEIGHTS


def view(i: int) -> np.ndarray:
    return np.full((1, 2, 3, 3), i, dtype=np.float32) + np.arange(18, dtype=np.float32).reshape(1, 2, 3, 3) / 18


def expected(i: int) -> np.ndarray:
    return (view(i).reshape(1, -1) @ WEIGHTS)[0]


@pytest.fixture
def closing():
    made = []

    def make(*args, **kwargs) -> Batcher:
        made.append(Batcher(*args, **kwargs))
        return made[-1]

    yield make
    for b in made:
        b.close()


# ---- the batcher alone -----------------------------------------------------------------------------------------

def test_concurrent_views_share_one_forward_and_each_gets_its_own_row(closing):
    forward = Recording()
    batcher = closing(forward, window_ms=2000, max_batch=8)  # full at 8: no need to wait the window out
    batcher.expect(8)  # as the app announces each request's view before preparing it
    results = [None] * 8

    def client(i):
        results[i] = batcher.submit(view(i)).result(timeout=5)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(8)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert forward.sizes == [8]
    assert time.perf_counter() - start < 1.5  # sent when full, not at the end of the window
    for i, row in enumerate(results):
        np.testing.assert_allclose(row, expected(i), rtol=1e-5)


def test_a_batch_holds_at_most_max_batch_views(closing):
    forward = Recording()
    batcher = closing(forward, window_ms=300, max_batch=4)
    batcher.expect(10)
    futures = [batcher.submit(view(i)) for i in range(10)]
    rows = [f.result(timeout=5) for f in futures]
    assert forward.sizes == [4, 4, 2]
    for i, row in enumerate(rows):
        np.testing.assert_allclose(row, expected(i), rtol=1e-5)


def test_a_lone_view_goes_at_once(closing):
    forward = Recording()
    batcher = closing(forward, window_ms=2000, max_batch=32)
    start = time.perf_counter()
    batcher.submit(view(0)).result(timeout=5)
    assert time.perf_counter() - start < 0.5 and forward.sizes == [1]  # nobody announced: no wait


def test_announced_views_are_waited_for_up_to_the_window_and_no_longer(closing):
    forward = Recording()
    batcher = closing(forward, window_ms=300, max_batch=32)
    batcher.expect(3)
    start = time.perf_counter()
    first = batcher.submit(view(0))
    time.sleep(0.05)
    second = batcher.submit(view(1))  # the third never comes
    np.testing.assert_allclose(first.result(timeout=5), expected(0), rtol=1e-5)
    np.testing.assert_allclose(second.result(timeout=5), expected(1), rtol=1e-5)
    assert 0.28 < time.perf_counter() - start < 1.0 and forward.sizes == [2]


def test_a_withdrawn_view_is_not_waited_for(closing):
    forward = Recording()
    batcher = closing(forward, window_ms=5000, max_batch=32)
    batcher.expect(2)
    start = time.perf_counter()
    first = batcher.submit(view(0))
    time.sleep(0.05)
    batcher.withdraw()  # its photo failed to decode: the forward goes without it
    np.testing.assert_allclose(first.result(timeout=5), expected(0), rtol=1e-5)
    assert time.perf_counter() - start < 1.0 and forward.sizes == [1]


def test_a_failing_forward_fails_only_its_own_batch(closing):
    forward = Recording()
    batcher = closing(forward, window_ms=300, max_batch=4, name="mlp_seed0")  # batches of 4 fill at once
    batcher.expect(8)
    poisoned = view(1)
    poisoned[0, 0, 0, 0] = np.nan
    first = [batcher.submit(x) for x in (view(0), poisoned, view(2), view(3))]
    second = [batcher.submit(view(i)) for i in range(4, 8)]
    for f in first:
        with pytest.raises(BatchFailed) as e:
            f.result(timeout=5)
        assert "mlp_seed0" in str(e.value) and "NaN in the input" in str(e.value) and "\n" not in str(e.value)
    for i, f in zip(range(4, 8), second):
        np.testing.assert_allclose(f.result(timeout=5), expected(i), rtol=1e-5)
    assert forward.sizes == [4, 4]
    np.testing.assert_allclose(batcher.submit(view(9)).result(timeout=5), expected(9), rtol=1e-5)  # still working


def test_a_forward_of_the_wrong_shape_is_an_error_not_a_wrong_answer(closing):
    batcher = closing(lambda x: np.zeros((1, 5), np.float32), window_ms=1000, max_batch=2)
    batcher.expect(2)
    futures = [batcher.submit(view(i)) for i in range(2)]
    for f in futures:
        with pytest.raises(BatchFailed, match=r"shape \(1, 5\) for 2 inputs"):
            f.result(timeout=5)


def test_close_answers_what_is_queued_then_refuses(closing):
    forward = Recording(delay=0.05)
    batcher = closing(forward, window_ms=0, max_batch=2)
    futures = [batcher.submit(view(i)) for i in range(5)]
    batcher.close()
    assert [f.result(timeout=0) is not None for f in futures] == [True] * 5  # all answered before close returned
    assert not batcher._worker.is_alive()
    with pytest.raises(BatcherClosed, match="shutting down"):
        batcher.submit(view(0)).result(timeout=1)


def test_a_view_whose_client_left_is_not_computed(closing):
    forward = Recording(delay=0.1)
    batcher = closing(forward, window_ms=0, max_batch=1)
    busy = batcher.submit(view(0))  # occupies the worker for 100 ms
    time.sleep(0.02)
    gone = batcher.submit(view(1))
    assert gone.cancel()
    kept = batcher.submit(view(2))
    busy.result(timeout=5)
    np.testing.assert_allclose(kept.result(timeout=5), expected(2), rtol=1e-5)
    assert forward.sizes == [1, 1]


# ---- through the app -------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def comparison(tmp_path_factory):
    """Two digits MLPs (random weights, no training: these tests compare answers, not accuracy) that normalize
    alike-looking views differently, so a row given to the wrong model or request shows."""
    out = tmp_path_factory.mktemp("digits")
    for name, mean, std, acc in (("mlp_a", 0.3, 0.4, 0.6), ("mlp_b", 0.5, 0.2, 0.5)):
        untrained_mlp_run(out / name, 8, [str(k) for k in range(10)], mean, std, "digits", {"test_acc": acc})
    return [out / "mlp_a", out / "mlp_b"]


PHOTOS = [digit_photo(i) for i in range(12)]


def post_all(app, photos: list[bytes], query: str = "top_k=10") -> list[httpx.Response]:
    """Every photo POSTed at once to the app in this process."""
    async def send():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            out = [None] * len(photos)

            async def one(i):
                out[i] = await client.post(f"/v1/predict?{query}", content=photos[i])

            async with anyio.create_task_group() as tg:
                for i in range(len(photos)):
                    tg.start_soon(one, i)
            return out

    return anyio.run(send)


def probs(body: dict) -> dict:
    return {(r["model"], t["label"]): t["prob"] for r in body["results"] for t in r["top_k"]}


@pytest.mark.parametrize("runtime", ["torch", "onnx"])
def test_concurrent_requests_get_the_answers_sequential_ones_get(comparison, runtime):
    predictor = Predictor.load(comparison, runtime=runtime)
    sizes = {}
    for m in predictor.models:
        raw = m.forward
        sizes[m.name] = []
        m.forward = lambda x, raw=raw, log=sizes[m.name]: log.append(len(x)) or raw(x)

    one_by_one = TestClient(create_app(predictor, batch_window_ms=0))
    sequential = [one_by_one.post("/v1/predict?top_k=10", content=p) for p in PHOTOS]
    assert all(s == [1] * len(PHOTOS) for s in sizes.values())  # window 0: one forward per request, as before
    for s in sizes.values():
        s.clear()

    with TestClient(create_app(predictor, batch_window_ms=200, max_batch=8)) as client:
        concurrent = post_all(client.app, PHOTOS)
    for s in sizes.values():
        assert sum(s) == len(PHOTOS) and max(s) > 1 and max(s) <= 8, s  # shared forwards, none over max_batch
    for seq, con in zip(sequential, concurrent):
        assert seq.status_code == con.status_code == 200, con.text
        a, b = seq.json(), con.json()
        assert [r["model"] for r in a["results"]] == [r["model"] for r in b["results"]]
        assert [[t["label"] for t in r["top_k"]] for r in a["results"]] == \
               [[t["label"] for t in r["top_k"]] for r in b["results"]]
        pa, pb = probs(a), probs(b)
        assert pa.keys() == pb.keys() and all(abs(pa[k] - pb[k]) <= 2e-6 for k in pa), (pa, pb)
        assert a["image"] == b["image"]


def test_batched_answers_carry_inputs_and_choose_one_model(comparison):
    predictor = Predictor.load(comparison)
    name = predictor.models[1].name
    plain = TestClient(create_app(predictor)).post(f"/v1/predict?model={name}&include_input=1",
                                                   content=PHOTOS[0]).json()
    with TestClient(create_app(predictor, batch_window_ms=5)) as client:
        batched = client.post(f"/v1/predict?model={name}&include_input=1", content=PHOTOS[0]).json()
    assert [r["model"] for r in batched["results"]] == [name]
    assert batched["results"][0]["input"] == plain["results"][0]["input"]
    assert batched["results"][0]["input"].startswith("data:image/png;base64,")


def test_a_failing_forward_is_a_one_line_500_and_the_server_goes_on(comparison):
    predictor = Predictor.load(comparison)
    m = predictor.models[0]
    raw, calls = m.forward, []

    def fails_once(x):
        calls.append(len(x))
        if len(calls) == 1:
            raise RuntimeError("out of memory\nsecond line")
        return raw(x)

    m.forward = fails_once
    try:
        app = create_app(predictor, batch_window_ms=300, max_batch=4)
    finally:
        m.forward = raw
    with TestClient(app):
        first = post_all(app, PHOTOS[:4], query=f"model={m.name}")
        after = post_all(app, PHOTOS[4:6], query=f"model={m.name}")
    assert calls[0] > 1  # the failing forward was shared ...
    failed = [r for r in first if r.status_code == 500]
    assert len(failed) == calls[0]  # ... and failed exactly the requests it held
    for r in failed:
        detail = r.json()["detail"]
        assert m.name in detail and "out of memory second line" in detail and "\n" not in detail
    assert [r.status_code for r in first if r not in failed] == [200] * (4 - calls[0])
    assert [r.status_code for r in after] == [200, 200]


def test_a_photo_that_fails_is_not_waited_for(comparison):
    """A bad photo announced its view and never delivers it: it is withdrawn, so later requests do not wait
    the (long) window for it."""
    predictor = Predictor.load(comparison)
    with TestClient(create_app(predictor, batch_window_ms=100)) as client:
        assert client.post("/v1/predict", content=b"not a photo").status_code == 415
        start = time.perf_counter()
        for photo in PHOTOS[:10]:
            assert client.post("/v1/predict", content=photo).status_code == 200
        assert time.perf_counter() - start < 0.8  # ten forwards that waited 100 ms each would take 1 s


def test_shutdown_stops_the_workers(comparison):
    predictor = Predictor.load(comparison)

    def workers():
        return [t for t in threading.enumerate() if t.name.startswith("batcher-") and t.is_alive()]

    before = len(workers())
    with TestClient(create_app(predictor, batch_window_ms=2)) as client:
        assert client.post("/v1/predict", content=PHOTOS[0]).status_code == 200
        assert len(workers()) == before + len(predictor.models)
    assert len(workers()) == before


# ---- the flags -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("flag,value,text", [
    ("--batch-window-ms", "-1", "--batch-window-ms must be in 0..100 (0: no batching), got -1.0"),
    ("--batch-window-ms", "nan", "--batch-window-ms must be in 0..100"),
    ("--batch-window-ms", "1000", "--batch-window-ms must be in 0..100"),
    ("--max-batch", "0", "--max-batch must be in 1..1024, got 0"),
    ("--max-batch", "5000", "--max-batch must be in 1..1024"),
    ("--max-batch", "2.5", "--max-batch"),  # argparse's own type check
])
def test_out_of_domain_batching_flags_are_one_line_and_exit_2(flag, value, text):
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            rc = main(["serve", "/nonexistent/runs", flag, value])
        except SystemExit as e:  # argparse's usage errors exit from inside parse_args
            rc = e.code
    out = err.getvalue()
    assert rc == 2 and len(out.splitlines()) == 1 and "Traceback" not in out and text in out, out
