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
from helpers import make_notebook, start_server

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
    shutil.copytree(ROOT / "examples" / "compose", root / "compose")
    make_notebook(  # a notebook with a search space, for the Tune section
        root / "tune.ipynb",
        [
            (["pipeline-parameters"], "X = 0  # the parameter searched"),
            (["block:data"], "offset = 2"),
            (["block:fit"], "loss = (X - offset) ** 2"),
            (["pipeline-metrics"], "loss"),
        ],
        {
            "kalec": {
                "tune": {
                    "parameters": [
                        {
                            "name": "X",
                            "parameterType": "int",
                            "feasibleSpace": {"min": "0", "max": "3"},
                        }
                    ],
                    "objective": {"type": "minimize", "objectiveMetricName": "loss"},
                    "algorithm": {"algorithmName": "grid"},
                }
            }
        },
    )
    make_notebook(  # a second notebook, whose steps' order kalec adds (notes K609)
        root / "sections.ipynb",
        [
            (["block:load"], "rows = [1, 2, 3]"),
            (["block:clean"], "rows = [r * 2 for r in rows]"),
            (["block:report"], "print(sum(rows))"),
        ],
        {"kalec": {"name": "sections"}},
    )
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
         f"--ServerApp.root_dir={root}", "--allow-root", "--LabApp.expose_app_in_browser=True"],
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

            # 1. the toolbar button, beside the notebook's run buttons, opens the panel, which
            # lists the notebook's steps
            toolbar_names = page.locator(".jp-NotebookPanel-toolbar > [data-jp-item-name]")
            names = [n.get_attribute("data-jp-item-name") for n in toolbar_names.all()]
            assert "kalec" in names and names.index("kalec") < names.index("cellType"), str(names)
            page.locator(".kalec-toolbar-button").first.click()
            panel = page.locator("#kalec-panel")
            for step in ("make-data", "fit", "baseline", "evaluate"):
                expect(panel.locator(f".kalec-step[data-step='{step}']")).to_be_visible()
            expect(panel.locator(".kalec-status")).to_contain_text("4 steps, no errors")
            expect(panel.locator(".kalec-inputs").nth(1)).to_contain_text("xs ← make-data")
            expect(panel.locator(".kalec-graph-overview svg g.step")).to_have_count(4)
            page.screenshot(path=str(shots / "1-panel.png"))
            # a narrow notebook (the panel open beside it) still shows the button: JupyterLab
            # folds the toolbar's last items into "..." first
            page.set_viewport_size({"width": 1010, "height": 950})
            narrow = page.locator(".jp-NotebookPanel").filter(visible=True).first
            assert 380 < narrow.bounding_box()["width"] < 480, narrow.bounding_box()
            expect(
                page.locator(".jp-NotebookPanel-toolbar .kalec-toolbar-button").filter(visible=True)
            ).to_be_visible()
            page.screenshot(path=str(shots / "1-narrow-notebook.png"))
            page.set_viewport_size({"width": 1500, "height": 950})

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
            # the cell the error points at has its chip marked
            expect(page.locator(".kalec-chip.kalec-chip-error")).to_have_text("evaluate")
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
            expect(panel.locator(".kalec-run-line[data-state='ok']")).to_be_visible(timeout=120_000)
            states = panel.locator(".kalec-step .kalec-badge").all_inner_texts()
            assert [s.split()[0] for s in states] == ["done"] * 4, states
            expect(panel.locator(".kalec-metrics")).to_contain_text("improvement = ")
            # the run's summary table, and each step's state on the graph's boxes
            summary = panel.locator(".kalec-run-summary")
            for step in ("make-data", "fit", "baseline", "evaluate"):
                expect(summary).to_contain_text(step)
            done = panel.locator(".kalec-graph-overview svg g.step[data-state='done']")
            expect(done).to_have_count(4)
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


PANEL_WIDTH = 250  # the right sidebar's default width


def _no_horizontal_scroll(page, selector: str) -> None:
    """Nothing in the element is wider than it, and it does not scroll sideways."""
    found = page.evaluate(
        """(selector) => {
            const root = document.querySelector(selector);
            const box = root.getBoundingClientRect();
            const wide = [...root.querySelectorAll('*')]
                .filter(e => e.getClientRects().length && getComputedStyle(e).display !== 'none')
                .filter(e => e.getBoundingClientRect().right > box.right + 1)
                .map(e => e.className || e.tagName);
            return {scroll: root.scrollWidth - root.clientWidth, wide: wide.slice(0, 5)};
        }""",
        selector,
    )
    assert found["scroll"] <= 0 and not found["wide"], found


def _sidebar_width(page, width: int) -> None:
    """Give the right sidebar ``width`` CSS pixels, as dragging its handle does."""
    panel = page.locator("#kalec-panel")
    handle = page.evaluate(
        """() => [...document.querySelectorAll('#jp-main-split-panel > .lm-SplitPanel-handle')]
            .map(h => h.getBoundingClientRect()).filter(r => r.height > 0)
            .reduce((a, b) => (a.x > b.x ? a : b)).toJSON()"""
    )
    now = panel.bounding_box()
    page.mouse.move(handle["x"] + handle["width"] / 2, handle["y"] + 300)
    page.mouse.down()
    page.mouse.move(handle["x"] + now["width"] - width, handle["y"] + 300, steps=5)
    page.mouse.up()
    assert abs(panel.bounding_box()["width"] - width) <= 8, panel.bounding_box()


@pytest.mark.parametrize("theme", ["JupyterLab Light", "JupyterLab Dark"])
def test_panel_keeps_each_notebook_apart_and_fits_at_250_px(
    lab, tmp_path: Path, theme: str
) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import expect, sync_playwright

    base, root = lab
    shots = Path(os.environ.get("KALEC_SCREENSHOTS") or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    tag = "dark" if "Dark" in theme else "light"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.set_default_timeout(60_000)
        expect.set_options(timeout=60_000)
        try:
            page.goto(f"{base}/lab?reset&token={TOKEN}")
            expect(page.locator(".jp-LabShell")).to_be_visible()
            with contextlib.suppress(PlaywrightTimeout):
                page.get_by_role("button", name="No", exact=True).click(timeout=3_000)
            page.evaluate(
                "([id, theme]) => window.jupyterapp.commands.execute(id, {theme}).then(() => null)",
                ["apputils:change-theme", theme],
            )
            expect(page.locator("body")).to_have_attribute(
                "data-jp-theme-light", "false" if tag == "dark" else "true"
            )

            # 1. the sidebar route, no notebook open: words saying what to do, no broken image
            page.locator(".jp-SideBar.jp-mod-right [title^='kalec']").first.click()
            panel = page.locator("#kalec-panel")
            expect(panel.locator(".kalec-empty")).to_contain_text("Open a notebook")
            assert panel.locator("img").count() == 0
            page.screenshot(path=str(shots / f"panel-empty-{tag}.png"))

            # 2. a notebook: its steps, and its settings read from its metadata once loaded
            page.evaluate(
                "(path) => window.jupyterapp.commands.execute('docmanager:open', {path}).then(() "
                "=> null)",
                "quickstart.ipynb",
            )
            expect(panel.locator(".kalec-status")).to_contain_text("4 steps, no errors")
            panel.locator(".kalec-settings-box > summary").click()
            expect(panel.locator(".kalec-settings input[name=name]")).to_have_value("quickstart")
            panel.locator(".kalec-deploy-box > summary").click()
            _sidebar_width(page, PANEL_WIDTH)
            _no_horizontal_scroll(page, "#kalec-panel")
            colours = panel.locator(".kalec-step").evaluate_all(
                "(steps) => steps.map(s => getComputedStyle(s).borderLeftColor)"
            )
            assert all(a != b for a, b in zip(colours, colours[1:], strict=False)), colours
            page.screenshot(path=str(shots / f"panel-250px-{tag}.png"))

            # 3. a second notebook: its own steps, notes folded; switching back shows the first's
            page.evaluate(
                "(path) => window.jupyterapp.commands.execute('docmanager:open', {path}).then(() "
                "=> null)",
                "sections.ipynb",
            )
            expect(panel.locator(".kalec-notebook")).to_have_text("sections.ipynb")
            expect(panel.locator(".kalec-step[data-step='clean']")).to_be_visible()
            expect(panel.locator(".kalec-step[data-step='fit']")).to_have_count(0)
            notes = panel.locator("details.kalec-notes")
            expect(notes).to_have_count(1)
            assert notes.evaluate("(d) => d.open") is False
            expect(panel.locator(".kalec-settings input[name=name]")).to_have_value("sections")
            # a notebook that is no pipeline: kalec switched off for it, chips gone; back on
            chips = page.locator(".jp-NotebookPanel:visible .kalec-chip")
            expect(chips.first).to_be_visible()
            panel.locator(".kalec-enable input").uncheck()
            expect(chips).to_have_count(0)
            expect(panel.locator(".kalec-status")).to_contain_text("kalec is off")
            panel.locator(".kalec-enable input").check()
            expect(chips.first).to_be_visible()
            expect(panel.locator(".kalec-step[data-step='clean']")).to_be_visible()
            page.locator(".lm-TabBar-tab", has_text="quickstart.ipynb").click()
            expect(panel.locator(".kalec-notebook")).to_have_text("quickstart.ipynb")
            expect(panel.locator(".kalec-status")).to_contain_text("4 steps, no errors")
            expect(panel.locator(".kalec-step[data-step='clean']")).to_have_count(0)
            expect(panel.locator(".kalec-step[data-step='fit']")).to_be_visible()

            # 4. commands in the palette; the graph opens in a tab, readable, and a step
            # clicked there selects its cell
            page.keyboard.press("Control+Shift+C")
            page.keyboard.type("kalec")
            palette = page.locator(".lm-CommandPalette-item")
            for label in (
                "Kalec: Check pipeline",
                "Kalec: Run pipeline locally",
                "Kalec: Build pipeline",
                "Kalec: Deploy pipeline to Kubeflow Pipelines",
                "Kalec: Open pipeline graph",
            ):
                expect(palette.filter(has_text=label)).to_have_count(1)
            palette.filter(has_text="Kalec: Open pipeline graph").click()
            graph = page.locator("#kalec-graph")
            expect(graph.locator("svg g.step")).to_have_count(4)
            names = graph.locator("svg g.step text[font-weight=bold]")
            smallest = names.evaluate_all(
                "(texts) => Math.min(...texts.map(t => t.getBoundingClientRect().height))"
            )
            assert smallest >= 11, smallest  # the step names, in CSS pixels
            graph.locator("svg g.step[data-step='evaluate']").click()
            active = page.locator(".jp-Notebook .jp-Cell.jp-mod-active").filter(visible=True)
            expect(active).to_contain_text("model_mse = mse(")
            expect(graph.locator("svg g.step.kalec-current")).to_have_attribute(
                "data-step", "evaluate"
            )
            page.screenshot(path=str(shots / f"graph-tab-{tag}.png"))

            # 5. the Pipeline menu holds the same commands
            page.locator(".lm-MenuBar-itemLabel", has_text="Pipeline").click()
            expect(
                page.locator(".lm-Menu-itemLabel", has_text="Kalec: Check pipeline")
            ).to_be_visible()
            page.keyboard.press("Escape")

            # 6. a composition: reference cells have a chip naming the notebook, which opens
            # it; the panel lists the steps of every notebook
            if tag == "light":
                page.evaluate(
                    "(path) => window.jupyterapp.commands.execute('docmanager:open', {path})"
                    ".then(() => null)",
                    "compose/pipeline.ipynb",
                )
                expect(panel.locator(".kalec-step[data-step='train/fit']")).to_contain_text(
                    "of models/train.ipynb"
                )
                chip = page.locator(".kalec-chip[data-kind='notebook']", has_text="prepare")
                expect(chip).to_have_text("notebook: prepare (prepare.ipynb)")
                page.screenshot(path=str(shots / "panel-composition.png"))
                chip.click()
                expect(page.get_by_role("tab", name="prepare.ipynb", exact=True)).to_be_visible()
                page.get_by_role("tab", name="quickstart.ipynb", exact=True).click()
                expect(panel.locator(".kalec-notebook")).to_have_text("quickstart.ipynb")

            # 7. tune: a search from the notebook's space, its trials as they finish, the best
            # written into the parameters cell
            if tag == "light":
                page.evaluate(
                    "(path) => window.jupyterapp.commands.execute('docmanager:open', {path})"
                    ".then(() => null)",
                    "tune.ipynb",
                )
                expect(panel.locator(".kalec-notebook")).to_have_text("tune.ipynb")
                panel.locator(".kalec-tune-box > summary").click()
                expect(panel.locator(".kalec-tune-space")).to_have_value(re.compile("grid"))
                panel.locator(".kalec-tune-start").click()
                expect(panel.locator(".kalec-tune-status")).to_contain_text(
                    "search ok: 4 of 4 trials", timeout=120_000
                )
                expect(panel.locator(".kalec-trials tr.kalec-best")).to_contain_text("2")
                _no_horizontal_scroll(page, "#kalec-panel")
                page.screenshot(path=str(shots / "panel-tune.png"))
                panel.locator(".kalec-tune-apply").click()
                cell = page.locator(".jp-Cell", has_text="the parameter searched").filter(
                    visible=True
                )
                expect(cell).to_contain_text("X = 2  # the parameter searched")
                page.get_by_role("tab", name="quickstart.ipynb", exact=True).click()

            # 8. deploy to a server that is not there: said in words
            host = panel.locator(".kalec-deploy input[name=host]")
            host.fill("http://127.0.0.1:9")
            panel.locator(".kalec-deploy-button").click()
            expect(panel.locator(".kalec-deploy-status")).to_contain_text(
                "cannot reach Kubeflow Pipelines at http://127.0.0.1:9", timeout=90_000
            )
            _no_horizontal_scroll(page, "#kalec-panel")
            page.screenshot(path=str(shots / f"panel-deploy-error-{tag}.png"))

            # 9. deploy and run on a (stand-in) Kubeflow Pipelines: the run is followed, its
            # steps' states on the graph
            if tag == "light":
                from kfp_api_stub import KfpApiStub

                with KfpApiStub() as kfp:
                    done = {s: "SUCCEEDED" for s in ("make-data", "fit", "baseline", "evaluate")}
                    kfp.run_course = [
                        ("RUNNING", {"make-data": "SUCCEEDED", "fit": "RUNNING"}),
                        ("SUCCEEDED", done),
                    ]
                    host.fill(kfp.url)
                    panel.locator(".kalec-deploy input[name=run]").check()
                    panel.locator(".kalec-deploy-button").click()
                    expect(panel.locator(".kalec-deploy-status")).to_contain_text(
                        "run succeeded: 4 of 4 steps finished", timeout=90_000
                    )
                    states = panel.locator(".kalec-graph-overview svg g.step[data-state='done']")
                    expect(states).to_have_count(4)
                    page.screenshot(path=str(shots / "panel-deploy-run.png"))
        except Exception:
            page.screenshot(path=str(shots / f"failure-{tag}.png"))
            raise
        finally:
            browser.close()
