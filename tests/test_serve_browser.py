"""The web page in a real browser: `bakeoff serve` as a subprocess, Debian's headless Chromium driven by Playwright."""
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from PIL import Image

from serve_fixtures import digit_photo, digits_comparison

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists() or shutil.which("chromium") is None,
                                reason=f"{CHROMIUM} is missing (`make browser` installs Debian's chromium)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`bakeoff serve` on a free loopback port, with two digits models; stopped after the tests."""
    runs = digits_comparison(tmp_path_factory.mktemp("digits"))
    port = free_port()
    log = tmp_path_factory.mktemp("log") / "serve.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "bakeoff", "serve", str(runs), "--port", str(port)],
                                stdout=out, stderr=subprocess.STDOUT, env={**os.environ})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"bakeoff serve did not come up: {log.read_text()}")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_upload_shows_every_models_predictions(server, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    photo = tmp_path / "seven.png"
    photo.write_bytes(digit_photo(7))
    with sync_playwright() as pw:
        browser = pw.chromium.launch_persistent_context(str(tmp_path / "profile"), executable_path=CHROMIUM,
                                                        headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))
            page.goto(server + "/")
            expect(page.locator("#summary")).to_have_text("2 models trained on digits")
            cards = page.locator(".model-card")
            expect(cards).to_have_count(2)
            page.set_input_files("#file", str(photo))
            for i in range(2):
                card = cards.nth(i)
                expect(card.locator(".bar")).to_have_count(3)
                expect(card.locator("img.seen")).to_be_visible()
                expect(card.locator(".meta")).to_contain_text(" ms")
            labels = [cards.nth(i).locator(".bar .label").first.inner_text() for i in range(2)]
            assert all(label in [str(k) for k in range(10)] for label in labels), labels
            expect(page.locator("#status")).to_contain_text("round trip")
            # drawing on the canvas is classified too, through the same pipeline
            box = page.locator("#draw").bounding_box()
            page.mouse.move(box["x"] + box["width"] / 2, box["y"] + 40)
            page.mouse.down()
            page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] - 40, steps=8)
            page.mouse.up()
            expect(page.locator("#status")).to_contain_text("280×280 photo")
            page.screenshot(path=str(tmp_path / "page.png"), full_page=True)
            full = (page.viewport_size["width"], page.evaluate("document.documentElement.scrollHeight"))
            with Image.open(tmp_path / "page.png") as shot:
                assert shot.size == full  # the whole page, results included
            assert not errors, errors
        finally:
            browser.close()
