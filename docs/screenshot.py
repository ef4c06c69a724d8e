"""Screenshot the top of a report in Debian's headless Chromium, as README shows it.

    .venv/bin/python docs/screenshot.py runs/fm-report/report.html docs/report-fashion-mnist.png
"""
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def main(report: str, out: str, width: int = 1280, height: int = 1500) -> None:
    with sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
        browser = p.chromium.launch_persistent_context(profile, executable_path="/usr/bin/chromium", headless=True,
                                                       args=CHROMIUM_ARGS, viewport={"width": width, "height": height})
        page = browser.new_page()
        page.goto(Path(report).resolve().as_uri())
        page.wait_for_load_state("load")
        page.screenshot(path=out, clip={"x": 0, "y": 0, "width": width, "height": height})
        browser.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
