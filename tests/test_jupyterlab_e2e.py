"""The JupyterLab extension end to end: a real `jupyter lab` with a token on a free loopback
port, driven in Debian's Chromium through Playwright. Each stage leaves a screenshot in
$KALEC_SCREENSHOTS (CI prints the folder), or in the test's own folder."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ROOT
from helpers import start_server

TOKEN = "lab-test-token-7"
CHROMIUM = os.environ.get("KALEC_CHROMIUM") or shutil.which("chromium") or ""

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM, reason="no Chromium here (CI installs Debian's chromium)"),
]


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> Iterator[tuple[str, Path]]:
    root = tmp_path_factory.mktemp("lab-root")
    shutil.copy(ROOT / "examples" / "quickstart.ipynb", root / "quickstart.ipynb")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        with urllib.request.urlopen(f"{base}/api/status?token={TOKEN}", timeout=5) as answer:
            return answer.status == 200

    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(root.parent / "runtime"), HOME=str(root.parent))
    process = start_server(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1",
         f"--port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={TOKEN}",
         f"--ServerApp.root_dir={root}", "--allow-root"],
        env=env,
        ready=ready,
        log=root.parent / "lab.log",
        seconds=120,
    )  # fmt: skip
    try:
        yield base, root
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_panel_chips_check_run_and_build_in_a_real_browser(lab, tmp_path: Path) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import expect, sync_playwright

    base, root = lab
    shots = Path(os.environ.get("KALEC_SCREENSHOTS") or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1500, "height": 950}, accept_downloads=True)
        page.set_default_timeout(60_000)
        expect.set_options(timeout=60_000)  # a cold first load of JupyterLab takes a while
        try:
            page.goto(f"{base}/lab/tree/quickstart.ipynb?token={TOKEN}")
            expect(page.locator(".kalec-chip").first).to_be_visible()
            news = page.get_by_role("button", name="No", exact=True)  # JupyterLab's news prompt
            with contextlib.suppress(PlaywrightTimeout):
                news.click(timeout=3_000)

            # 1. the toolbar button opens the panel, which lists the notebook's steps
            page.locator(".kalec-toolbar-button").first.click()
            panel = page.locator("#kalec-panel")
            for step in ("make-data", "fit", "baseline", "evaluate"):
                expect(panel.locator(f".kalec-step[data-step='{step}']")).to_be_visible()
            expect(panel.locator(".kalec-status")).to_contain_text("4 steps, no errors")
            expect(panel.locator(".kalec-inputs").nth(1)).to_contain_text("xs ← make-data")
            expect(panel.locator(".kalec-graph")).to_have_attribute("src", re.compile("^blob:"))
            page.screenshot(path=str(shots / "1-panel.png"))

            # 2. the chip editor renames a step; the check follows (evaluate's prev: now
            # names a step that is gone: an error, which points at its cell)
            chip = page.locator(".kalec-chip", has_text="baseline").first
            chip.click()
            editor = page.locator(".kalec-chip-editor")
            editor.locator("input[name=step]").fill("base-line")
            page.screenshot(path=str(shots / "2-chip-editor.png"))
            editor.locator("button[type=submit]").click()
            expect(panel.locator(".kalec-step[data-step='base-line']")).to_be_visible()
            diagnostic = panel.locator(".kalec-diagnostic.kalec-error").first
            expect(diagnostic).to_contain_text("baseline")
            page.screenshot(path=str(shots / "3-diagnostic.png"))

            # 3. clicking the diagnostic selects its cell
            diagnostic.click()
            active = page.locator(".jp-Notebook .jp-Cell.jp-mod-active")
            expect(active).to_contain_text("model_mse = mse(")  # evaluate's cell: prev:baseline
            expect(active.locator(".kalec-chip")).to_contain_text("evaluate")
            page.screenshot(path=str(shots / "4-cell-selected.png"))

            # put the name back: the check is clean again
            page.locator(".kalec-chip", has_text="base-line").first.click()
            editor = page.locator(".kalec-chip-editor")
            editor.locator("input[name=step]").fill("baseline")
            editor.locator("button[type=submit]").click()
            expect(panel.locator(".kalec-status")).to_contain_text("4 steps, no errors")

            # 4. run locally: every step reaches done, then the summary
            panel.locator(".kalec-run-button").click()
            expect(panel.locator(".kalec-summary")).to_be_visible(timeout=120_000)
            states = panel.locator(".kalec-run-step summary").all_inner_texts()
            assert [s.split(":")[1].split()[0] for s in states] == ["done"] * 4, states
            expect(panel.locator(".kalec-summary")).to_contain_text("evaluate")
            page.screenshot(path=str(shots / "5-run.png"))

            # 5. build: the kfp-py file arrives as a download
            panel.locator(".kalec-target").select_option("kfp-py")
            with page.expect_download() as download:
                panel.locator(".kalec-build").click()
            saved = tmp_path / download.value.suggested_filename
            download.value.save_as(saved)
            assert saved.name == "quickstart.kfp.py"
            assert "def pipeline(" in saved.read_text(encoding="utf-8")
            page.screenshot(path=str(shots / "6-built.png"))
        except Exception:
            page.screenshot(path=str(shots / "failure.png"))
            raise
        finally:
            browser.close()
