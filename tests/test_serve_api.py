"""The HTTP API through FastAPI's test client: every endpoint, and every bad input answered in one line."""
import ast
import base64
import io
import time
from pathlib import Path

import anyio
import numpy as np
import pytest
from fastapi import HTTPException, Request
from fastapi.testclient import TestClient
from PIL import Image

import bakeoff.serve
from bakeoff.engine.metrics import count_params
from bakeoff.models import create_model
from bakeoff.store.runfolder import read_status
from bakeoff.serve.app import MAX_UPLOAD, create_app, read_image
from bakeoff.serve.predictor import Predictor
from serve_fixtures import digit_photo, digits_comparison


@pytest.fixture(scope="module")
def comparison(tmp_path_factory):
    return digits_comparison(tmp_path_factory.mktemp("digits"))


@pytest.fixture(scope="module")
def predictor(comparison):
    return Predictor.load([comparison])


@pytest.fixture(scope="module")
def client(predictor):
    return TestClient(create_app(predictor))


def one_line_error(r, status: int, text: str) -> None:
    assert r.status_code == status, r.text
    detail = r.json()["detail"]
    assert isinstance(detail, str) and "\n" not in detail and text in detail, detail


def test_health_models_docs_and_page(client, comparison):
    assert client.get("/healthz").json() == {"status": "ok", "models": 2}
    models = client.get("/v1/models").json()["models"]
    assert [m["test_acc"] for m in models] == sorted((m["test_acc"] for m in models), reverse=True)  # best first
    assert {m["name"] for m in models} == {"mlp_adam_lr0.001_noaug_seed0", "mlp_adam_lr0.001_noaug_seed1"}
    for m in models:
        assert m["dataset"] == "digits" and m["classes"] == [str(k) for k in range(10)]
        assert m["test_acc"] == read_status(comparison / m["name"])["test_acc"] and m["input"] == [1, 8, 8]
        assert m["params"] == count_params(create_model("mlp", num_classes=10, in_chans=1, img_size=8))
        assert m["background"] == "dark"  # measured by the runner on the training images
    docs = client.get("/docs").text
    assert "swagger" in docs.lower() and "cdn" not in docs and "https://" not in docs  # works offline
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert f"/docs-assets/{asset}" in docs and client.get(f"/docs-assets/{asset}").status_code == 200
    spec = client.get("/openapi.json").json()
    assert "multipart/form-data" in spec["paths"]["/v1/predict"]["post"]["requestBody"]["content"]
    page = client.get("/")
    assert page.status_code == 200 and 'id="results"' in page.text
    for asset in ("app.js", "style.css"):
        assert client.get(f"/static/{asset}").status_code == 200
    assert "http" not in client.get("/static/app.js").text.replace("https or localhost", "")  # no external resources


def test_predict_multipart_and_raw_body_agree_with_the_predictor(client, predictor):
    photo = digit_photo(0)
    start = time.perf_counter()
    r = client.post("/v1/predict", files={"file": ("zero.png", photo, "image/png")})
    elapsed_ms = 1000 * (time.perf_counter() - start)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["image"] == {"width": 120, "height": 100, "mode": "L"}
    assert len(body["results"]) == 2
    for res in body["results"]:
        probs = [t["prob"] for t in res["top_k"]]
        assert len(probs) == 3 and probs == sorted(probs, reverse=True) and "input" not in res
    timed = [body["preprocess_ms"], *(res["ms"] for res in body["results"])]
    assert min(timed) >= 0 and sum(timed) <= elapsed_ms  # parts of the request, measured inside it
    direct = predictor.predict(photo, 3)
    assert [r["top_k"] for r in body["results"]] == [r["top_k"] for r in direct["results"]]
    raw = client.post("/v1/predict", content=photo, headers={"content-type": "image/png"})
    assert [r["top_k"] for r in raw.json()["results"]] == [r["top_k"] for r in body["results"]]


def test_one_model_top_k_and_the_input_it_saw(client):
    name = "mlp_adam_lr0.001_noaug_seed1"
    r = client.post(f"/v1/predict?model={name}&top_k=10&include_input=true", content=digit_photo(3))
    assert r.status_code == 200, r.text
    (res,) = r.json()["results"]
    assert res["model"] == name and len(res["top_k"]) == 10
    assert abs(sum(t["prob"] for t in res["top_k"]) - 1) < 1e-4  # all classes: probabilities sum to one
    png = base64.b64decode(res["input"].removeprefix("data:image/png;base64,"))
    seen = np.asarray(Image.open(io.BytesIO(png)))
    assert seen.shape == (8, 8) and seen[:, 0].mean() < seen[2:6, 2:6].mean()  # light digit on dark, as trained


def _tiff(mode):
    buf = io.BytesIO()
    Image.new(mode, (8, 8)).save(buf, "TIFF")
    return buf.getvalue()


def _bomb():
    buf = io.BytesIO()
    Image.new("1", (9000, 9000)).save(buf, "PNG")
    return buf.getvalue()


BAD = {
    "not an image": (b"%PDF-1.7 this is not a photo", 415, "PNG, JPEG"),  # what it reads
    "unsupported mode": (_tiff("LAB"), 415, "'LAB'"),
    "truncated": (digit_photo(0)[:80], 415, "upload"),  # the photo's name in the API
    "decompression bomb": (_bomb(), 422, "9000x9000"),
    "empty": (b"", 400, "'file'"),  # how to send one
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_uploads_are_4xx_with_one_line_and_the_server_keeps_serving(client, case):
    data, status, text = BAD[case]
    one_line_error(client.post("/v1/predict", content=data, headers={"content-type": "application/octet-stream"}),
                   status, text)
    one_line_error(client.post("/v1/predict", files={"file": ("x", data)}), status, text)
    assert client.post("/v1/predict", content=digit_photo(1)).status_code == 200


def test_bad_parameters(client):
    photo = digit_photo(0)
    one_line_error(client.post("/v1/predict?model=resnt", content=photo), 422, "'resnt'")
    one_line_error(client.post("/v1/predict?model=resnt", content=photo), 422, "mlp_adam_lr0.001_noaug_seed0")
    one_line_error(client.post("/v1/predict?top_k=0", content=photo), 422, "top_k")
    one_line_error(client.post("/v1/predict?top_k=two", content=photo), 422, "top_k")
    one_line_error(client.post("/v1/predict", files={"photo": ("x.png", photo)}), 400, "multipart field 'file'")
    assert client.get("/v1/predict").status_code == 405


def test_over_size_uploads_get_413(client):
    big = b"\xff" * (MAX_UPLOAD + 1)
    one_line_error(client.post("/v1/predict", content=big), 413, f"{MAX_UPLOAD:,}")
    one_line_error(client.post("/v1/predict", files={"file": ("big.jpg", big)}), 413, f"{MAX_UPLOAD:,}")
    assert client.post("/v1/predict", content=digit_photo(1)).status_code == 200


@pytest.mark.parametrize("multipart", [False, True])
def test_the_limit_is_checked_while_reading(multipart):
    """A 6.4 MB upload against a 100 kB limit is refused after ~2 chunks, not buffered whole first.

    (The test client reads whole bodies before the app sees them, so this drives the ASGI receive directly.)
    """
    received = []
    head = b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.jpg\"\r\n\r\n" if multipart else b""

    async def receive():
        received.append(1)
        body = (head if len(received) == 1 else b"") + b"\0" * 65536
        return {"type": "http.request", "body": body, "more_body": len(received) < 100}

    headers = [(b"content-type", b"multipart/form-data; boundary=XyZ" if multipart else b"image/jpeg")]
    request = Request({"type": "http", "method": "POST", "path": "/v1/predict", "query_string": b"",
                       "headers": headers}, receive)

    async def read():
        with pytest.raises(HTTPException) as e:
            await read_image(request, 100_000)
        return e.value

    error = anyio.run(read)
    assert error.status_code == 413 and "100,000" in error.detail
    assert len(received) <= 3, len(received)


def _imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at its top or inside functions, relative imports made absolute."""
    package = "bakeoff.serve"
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(p for p in (base, node.module) if p)
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)  # `from .. import engine` too
    return found


def test_serving_imports_nothing_from_the_training_engine():
    """serve/ reads run folders and checkpoints (store, models, data), never engine/ or runs/."""
    files = sorted(Path(bakeoff.serve.__file__).parent.glob("*.py"))
    assert {f.name for f in files} >= {"app.py", "predictor.py", "export.py", "photos.py"}
    for f in files:
        upward = {m for m in _imported_modules(f) if m.startswith(("bakeoff.engine", "bakeoff.runs"))}
        assert not upward, (f.name, upward)
    assert "bakeoff.data.pixels" in _imported_modules(Path(bakeoff.serve.__file__).parent / "predictor.py")
