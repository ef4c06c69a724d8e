"""Serving under hostile input: bounded memory per photo and across photos, photo formats only, stalled clients
cut off, no server paths shown, security headers, and the Host check against DNS rebinding."""
import io
import json
import os
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request

import anyio
import httpx
import pytest
from fastapi import HTTPException, Request
from fastapi.testclient import TestClient
from PIL import Image, ImageDraw

from bakeoff.cli import main
from bakeoff.serve.app import create_app, read_image
from bakeoff.serve.budget import MemoryBudget
from bakeoff.data.photos.decode import decode_bytes, open_photo
from bakeoff.serve.predictor import Predictor
from serve_fixtures import digit_photo, untrained_mlp_run

PRE = {"dataset": "digits", "in_chans": 1, "img_size": 8, "mean": [0.3], "std": [0.4], "background": "dark",
       "object_fill": 1.0}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A run folder with a digits MLP checkpoint (random weights: these tests are about the server)."""
    return untrained_mlp_run(tmp_path_factory.mktemp("srv") / "mlp_run", 8, [str(k) for k in range(10)], 0.3, 0.4,
                             "digits", metrics={"test_acc": 0.5})


@pytest.fixture(scope="module")
def predictor(run_dir):
    return Predictor.load([run_dir])


def encoded(im: Image.Image, fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kwargs)
    return buf.getvalue()


def big_png(side: int = 6300) -> bytes:
    """A small file that decodes large: side x side RGBA, a dark box on light paper (~170 kB at 6,300 px)."""
    im = Image.new("RGBA", (side, side), (230, 230, 230, 255))
    ImageDraw.Draw(im).rectangle((side // 3, side // 6, 2 * side // 3, 5 * side // 6), fill=(30, 30, 30, 255))
    return encoded(im, "PNG", compress_level=1)


# ---- memory -------------------------------------------------------------------------------------------------

def test_a_large_png_costs_its_decoded_frame_once_not_four_times(tmp_path):
    """4,000 x 4,000 RGBA (64 MB decoded): peak RSS of decoding and preprocessing it in a fresh process.
    (6,300 x 6,300, the sweep's case: +644 MB before, from full-size copies for turning it upright,
    premultiplying alpha, gray and colour views; +157 MB now.)"""
    side = 4000
    path = tmp_path / "big.png"
    path.write_bytes(big_png(side))
    script = textwrap.dedent(f"""
        import resource
        from bakeoff.data.photos.preprocess import model_view, open_photo
        data = open({str(path)!r}, "rb").read()
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        view = model_view(open_photo(data), {PRE!r})
        print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) // 1024, view.shape)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    peak_mb = int(out.split()[0])
    assert peak_mb < side * side * 4 / 2**20 * 1.4, out  # the decoded frame (61 MiB) and little else


def test_photos_are_decoded_no_larger_than_needed():
    im = Image.new("RGB", (2400, 1800), "white")
    for fmt in ("JPEG", "PNG", "WEBP", "BMP", "TIFF"):
        photo = open_photo(encoded(im, fmt))
        assert min(photo.size) >= 512 and min(photo.size) < 1024, (fmt, photo.size)  # 1/2 (JPEG) or 1/3
    assert open_photo(encoded(im, "PNG"), min_side=900).size == (1200, 900)
    panorama = open_photo(encoded(Image.new("L", (20000, 250)), "PNG"))  # 80:1, 5 Mpixels
    assert panorama.size == (10000, 125)  # reduced all the same: at most 4 Mpixels after decoding
    small = Image.new("RGB", (300, 200))
    assert open_photo(encoded(small, "PNG")).size == (300, 200)  # small photos are untouched


def test_the_cost_is_known_from_the_header_before_decoding():
    data = big_png(3000)
    assert 4 * 3000 * 3000 <= decode_bytes(data) <= 5 * 3000 * 3000  # the frame, and its reduced copies
    jpeg = encoded(Image.new("RGB", (4000, 3000)), "JPEG")
    assert decode_bytes(jpeg) <= 24 * 1000 * 750  # libjpeg decodes at 1/4 scale: 1000x750


def test_the_memory_budget_bounds_photos_decoded_at_once():
    budget, active, peak = MemoryBudget(100), 0, 0

    async def one(cost):
        nonlocal active, peak
        held = min(cost, budget.total)  # a photo larger than the whole budget holds all of it
        async with budget.hold(cost):
            active += held
            peak = max(peak, active)
            await anyio.sleep(0.01)
            active -= held

    async def many():
        async with anyio.create_task_group() as tg:
            for cost in [40, 40, 40, 10, 10, 500, 40]:  # 500: more than the whole budget, so it runs alone
                tg.start_soon(one, cost)

    anyio.run(many)
    assert peak <= 100 and budget.free == 100


def test_the_app_decodes_no_more_photos_at_once_than_the_budget_holds(predictor, monkeypatch):
    """Six 2,000 x 2,000 PNGs (~25 MB each to decode and preprocess) against a 60 MB budget: two at a time,
    though six threads are free."""
    photo = big_png(2000)
    app = create_app(predictor, memory=60 * 2**20, concurrency=6)
    active, peak = 0, 0
    real = predictor.predict

    def slow_predict(*args, **kwargs):
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        time.sleep(0.2)
        active -= 1
        return real(*args, **kwargs)

    monkeypatch.setattr(predictor, "predict", slow_predict)

    async def send_all():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            codes = []

            async def one():
                codes.append((await client.post("/v1/predict", content=photo)).status_code)

            async with anyio.create_task_group() as tg:
                for _ in range(6):
                    tg.start_soon(one)
            return codes

    assert anyio.run(send_all) == [200] * 6
    assert peak == 2


def test_an_upload_that_trickles_is_cut_off():
    async def receive():
        await anyio.sleep(10)

    request = Request({"type": "http", "method": "POST", "path": "/v1/predict", "query_string": b"",
                       "headers": [(b"content-type", b"image/png")]}, receive)

    async def read():
        with pytest.raises(HTTPException) as e:
            await read_image(request, 1000, timeout=0.2)
        return e.value

    error = anyio.run(read)
    assert error.status_code == 408 and "0.2 s" in error.detail


# ---- formats ------------------------------------------------------------------------------------------------

EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 8 8\n0 0 moveto 8 8 lineto stroke showpage\n"


def not_photos() -> dict[str, bytes]:
    im = Image.new("RGB", (16, 16), "white")
    return {"eps": EPS, "pdf": encoded(im, "PDF"), "ico": encoded(im, "ICO"), "tga": encoded(im, "TGA"),
            "ppm": encoded(im, "PPM")}


def test_only_photo_formats_are_read(predictor, tmp_path, capsys):
    client = TestClient(create_app(predictor))
    for fmt, data in not_photos().items():
        r = client.post("/v1/predict", content=data)
        assert r.status_code == 415 and "PNG, JPEG, WebP, GIF, BMP, TIFF" in r.json()["detail"], (fmt, r.text)
        (tmp_path / f"x.{fmt}").write_bytes(data)
        assert main(["predict", str(predictor.models[0].path), str(tmp_path / f"x.{fmt}")]) == 2
        err = capsys.readouterr().err
        assert len(err.splitlines()) == 1 and "not a photo" in err, err
    im = Image.open(io.BytesIO(digit_photo(0)))
    for fmt in ("PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF"):
        assert client.post("/v1/predict", content=encoded(im, fmt)).status_code == 200, fmt


# ---- what the server shows ----------------------------------------------------------------------------------

def test_models_show_names_and_every_response_has_security_headers(predictor, run_dir):
    client = TestClient(create_app(predictor))
    r = client.get("/v1/models")
    assert str(run_dir) not in r.text and "best.pt" not in r.text and "/" not in json.dumps(r.json()["models"])
    assert r.json()["models"][0]["name"] == "mlp_run"
    for path in ("/", "/v1/models", "/static/app.js", "/healthz"):
        h = client.get(path).headers
        assert h["x-content-type-options"] == "nosniff", path
        assert "default-src 'self'" in h["content-security-policy"] and "unsafe" not in h["content-security-policy"]
    docs = client.get("/docs").headers["content-security-policy"]
    assert "script-src 'self' 'unsafe-inline'" in docs  # Swagger UI starts from an inline script


def test_host_check_against_dns_rebinding(predictor):
    app = create_app(predictor, host="127.0.0.1", allowed_hosts=("bakeoff.lan",))
    for base in ("http://127.0.0.1:8000", "http://localhost:8000", "http://[::1]:8000", "http://192.168.1.5",
                 "http://bakeoff.lan:8000", "http://LOCALHOST"):
        assert TestClient(app, base_url=base).get("/healthz").status_code == 200, base
    for base in ("http://evil.example", "http://127.0.0.1.evil.example:8000", "http://localhost.evil.example"):
        r = TestClient(app, base_url=base).get("/v1/models")
        assert r.status_code == 421 and "--allow-host" in r.json()["detail"], base
        assert r.headers["x-content-type-options"] == "nosniff"


# ---- slow clients, against the real server ------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def still_open(s: socket.socket) -> bool:
    s.setblocking(False)
    try:
        return s.recv(1) != b""
    except BlockingIOError:  # nothing to read yet: open
        return True
    finally:
        s.setblocking(True)


def get(url: str, timeout: float = 5) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def test_stalled_clients_neither_starve_others_nor_stay(run_dir):
    """300 connections that send half a request head and stall (more than uvicorn's old limit of 256 open
    connections, which then answered every other request 503): others are still served, and the stalled
    ones are closed once the head deadline passes (2 s here; 10 s by default)."""
    port = free_port()
    script = (f"from bakeoff.serve.app import run_server; from bakeoff.serve.predictor import Predictor; "
              f"run_server(Predictor.load([{str(run_dir)!r}]), '127.0.0.1', {port}, head_timeout=2.0)")
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ})
    url = f"http://127.0.0.1:{port}"
    stalled = []
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if get(f"{url}/healthz", timeout=1) == 200:
                    break
            except OSError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read().decode()
            time.sleep(0.2)
        for _ in range(300):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            stalled.append(s)
        assert get(f"{url}/healthz") == 200 and get(f"{url}/v1/models") == 200
        assert sum(still_open(s) for s in stalled) > 256  # served beside the stalled ones, not after them
        for s in stalled:
            s.settimeout(5)
            assert s.recv(1024) == b""  # closed by the server: no answer, no slot held
        assert get(f"{url}/healthz", timeout=5) == 200
        with socket.create_connection(("127.0.0.1", port), timeout=5) as big:  # a head over 16 KB: 400, closed
            big.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n")
            assert big.recv(64).startswith(b"HTTP/1.1 400")
        assert get(f"{url}/healthz".replace("127.0.0.1", "localhost")) == 200
        request = urllib.request.Request(f"{url}/healthz", headers={"Host": "evil.example"})
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(request, timeout=5)
        assert e.value.code == 421
    finally:
        for s in stalled:
            s.close()
        proc.terminate()
        proc.wait(timeout=10)


def test_the_server_parses_with_httptools_where_installed_and_h11_on_request():
    from uvicorn.protocols.http.h11_impl import H11Protocol
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    from bakeoff.serve.protocol import with_head_timeout

    fast, plain = with_head_timeout(3.0), with_head_timeout(4.0, parser="h11")
    assert issubclass(fast, HttpToolsProtocol) and fast.head_timeout == 3.0
    assert issubclass(plain, H11Protocol) and plain.head_timeout == 4.0
