"""The Dagster UI as a person uses it: the webserver and the daemon on loopback against a temporary lake
and landing zone, headless Chromium (Debian's package, driven by Playwright) launching the ingest job
for a dump partition from the launchpad, waiting for the run to succeed, then reading the filter funnel
on the asset page. A screenshot is saved. ``make test`` installs Chromium when it is missing.
"""

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from orchestration.partitions import DUMP_PARTITIONS_NAME
from tests.conftest import LANDING, with_model

CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium keeps trying to reach Google's hosts.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def dagster_ui(tmp_path: Path, blocklist_cache: Path, trained_lake: Path) -> Iterator[str]:
    """A webserver and a daemon on a free loopback port, with a trained quality model and one dump."""
    if os.environ.get("CORPUSLAKE_SKIP_BROWSER"):
        pytest.skip("CORPUSLAKE_SKIP_BROWSER is set")
    home, lake, landing = tmp_path / "home", tmp_path / "lake", tmp_path / "landing"
    home.mkdir()
    shutil.copy(ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    # The dump's files, copied now: without a marker and before the quiet period the sensor leaves it alone.
    (landing / "FIXTURE-A").mkdir(parents=True)
    for part in sorted((LANDING / "FIXTURE-A").glob("*.warc.gz")):
        shutil.copy(part, landing / "FIXTURE-A" / part.name)
    with_model(trained_lake, lake)  # the session's trained model, as the training job writes it
    with dg.DagsterInstance.from_config(str(home)) as instance:
        instance.add_dynamic_partitions(DUMP_PARTITIONS_NAME, ["FIXTURE-A"])
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "CORPUSLAKE_LAKE": str(lake),
        "CORPUSLAKE_LANDING": str(landing),
        "CORPUSLAKE_CACHE": str(blocklist_cache),
    }
    port = _free_port()
    module = ["-m", "orchestration.definitions"]
    commands = [
        [str(BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(port), *module],
        [str(BIN / "dagster-daemon"), "run", *module],
    ]
    logs = [(tmp_path / f"{Path(c[0]).name}.log").open("w") for c in commands]
    processes = [
        subprocess.Popen(c, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        for c, log in zip(commands, logs, strict=True)
    ]
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{base}/server_info", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline or processes[0].poll() is not None:
                    raise RuntimeError(f"the webserver did not start: see {logs[0].name}") from None
                time.sleep(1)
        yield base
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        for log in logs:
            log.close()


def _run_field(base: str, run_id: str, field: str = "status") -> str:
    """A field of the run from the webserver's GraphQL endpoint (``status``: what the run page's tag shows)."""
    query = {
        "query": f"query($id: ID!) {{ runOrError(runId: $id) {{ ... on Run {{ {field} }} }} }}",
        "variables": {"id": run_id},
    }
    request = urllib.request.Request(
        f"{base}/graphql", data=json.dumps(query).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return str(json.loads(response.read())["data"]["runOrError"].get(field))


@pytest.mark.slow
@pytest.mark.browser
def test_launch_a_dump_from_the_ui_and_read_the_funnel(dagster_ui: str, tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.fail(
            "Debian's chromium is not installed: `make test` installs it (apt-get install chromium, as root); "
            "set CORPUSLAKE_SKIP_BROWSER=1 to skip this test where that is impossible"
        )
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})

        def dismiss_welcome() -> None:
            """The UI's first-visit newsletter dialog opens a moment after a page loads: close it if it does."""
            with contextlib.suppress(PlaywrightTimeout):
                page.click("text=Skip", timeout=3_000)

        def click(selector: str) -> None:
            """Click, closing whatever overlay (the dialog, a suggestion list) is in the way, a few times."""
            for _ in range(5):
                try:
                    page.click(selector, timeout=5_000)
                    return
                except PlaywrightTimeout:
                    dismiss_welcome()
                    page.keyboard.press("Escape")
            page.click(selector, timeout=5_000)

        # the job list leads to the ingest job; its launchpad takes the partition and launches
        page.goto(f"{dagster_ui}/jobs", wait_until="networkidle")
        dismiss_welcome()
        click("a[href$='/jobs/ingest_dump']")
        page.wait_for_load_state("networkidle")
        page.goto(page.url.rstrip("/") + "/playground", wait_until="networkidle")
        dismiss_welcome()
        click("input[placeholder='Partition']")
        page.keyboard.type("FIXTURE-A")
        page.wait_for_timeout(500)
        page.keyboard.press("Enter")
        dismiss_welcome()
        click("text=Launch Run")
        page.wait_for_url("**/runs/*", timeout=30_000)
        run_page = page.url

        # the daemon dequeues the run; wait for its end, as the run page's status tag reports it
        deadline = time.monotonic() + 420
        run_id = run_page.rsplit("/", 1)[-1]
        while (status := _run_field(dagster_ui, run_id)) not in (
            "SUCCESS",
            "FAILURE",
            "CANCELED",
        ):
            assert time.monotonic() < deadline, f"the run did not finish in time ({status}): {run_page}"
            page.wait_for_timeout(2_000)
        page.reload(wait_until="networkidle")
        assert status == "SUCCESS", f"the run ended {status}: {run_page}"
        assert page.is_visible("text=Success")

        # the asset page shows the materialization of the partition and the funnel
        page.goto(f"{dagster_ui}/assets/filtered?partition=FIXTURE-A", wait_until="networkidle")
        dismiss_welcome()
        deadline = time.monotonic() + 30
        while "funnel_chart" not in (body := page.inner_text("body")):  # the metadata table renders last
            assert time.monotonic() < deadline, "the asset page shows no funnel"
            page.wait_for_timeout(1_000)
        assert "FIXTURE-A" in body and "filtered@v0" in body
        assert "funnel_chart" in body and "documents in" in body and "kept_fraction" in body
        # a sample block (the documents behind the top reasons) and the plots open from their metadata rows
        assert "samples" in body and "distributions" in body and body.count("[Show Markdown]") >= 2
        click("text=[Show Markdown] >> nth=0")
        dialog = page.locator("[role=dialog]").last
        dialog.wait_for(timeout=10_000)
        assert "Dropped by a filter, top reasons" in dialog.inner_text(), "the samples block is empty"
        page.keyboard.press("Escape")
        dialog.wait_for(state="hidden", timeout=10_000)
        click("text=[Show Markdown] >> nth=1")
        dialog = page.locator("[role=dialog]").last
        dialog.wait_for(timeout=10_000)
        plot = dialog.locator("img").first
        plot.wait_for(timeout=10_000)
        assert plot.evaluate("image => image.complete && image.naturalWidth > 0"), "the plot image did not load"
        page.screenshot(path=str(tmp_path / "filtered-plots.png"))
        page.keyboard.press("Escape")
        shot = tmp_path / "filtered-asset.png"
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    assert shot.stat().st_size > 20_000
    artifacts = ROOT / "bench" / "out"
    artifacts.mkdir(parents=True, exist_ok=True)
    shutil.copy(shot, artifacts / shot.name)  # kept for people to look at (bench/out is not committed)
