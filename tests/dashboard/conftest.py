import os
import shutil
import subprocess
import sys
import textwrap

import pytest

import tunesmith as tune

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
def finished(run, storage):
    """A finished experiment ``exp``: 3 trials with 4 results each; lr=0.3 errors after its results."""

    def train(config):  # defined here so that it travels by value
        for step in range(4):
            tune.report({"loss": config["lr"] * (4 - step), "acc": step / 4})
        if config["lr"] > 0.25:
            raise ValueError(f"lr {config['lr']} is too large")

    run(train, {"lr": tune.grid_search([0.1, 0.2, 0.3]), "opt": tune.grid_search(["adam"])}, metric="loss", mode="min")
    return storage


@pytest.fixture
def cache_dir(tmp_path):
    """The dashboard's index folder for this test (never the user's ~/.cache)."""
    return str(tmp_path / "dashboard-cache")


@pytest.fixture
def running(storage):
    """An experiment ``live`` whose single trial reports a result every 0.3 s until the
    file ``stop`` appears in the storage folder; yields the storage folder."""
    os.makedirs(storage, exist_ok=True)
    stop = os.path.join(storage, "stop")
    script = textwrap.dedent(f"""
        import os, time
        import tunesmith as tune

        def train(config):
            step = 0
            while not os.path.exists({stop!r}) and step < 400:
                step += 1
                tune.report({{"loss": 1.0 / step}})
                time.sleep(0.3)

        tune.Tuner(train, param_space={{"lr": 0.1}}, tune_config=tune.TuneConfig(metric="loss", mode="min"),
                   run_config=tune.RunConfig(storage_path={storage!r}, name="live", verbose=0)).fit()
    """)
    driver = subprocess.Popen([sys.executable, "-c", script])
    yield storage
    open(stop, "w").close()
    try:
        driver.wait(timeout=60)
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium (Debian's package) driven by Playwright."""
    if CHROMIUM is None:
        pytest.fail("the browser tests need Debian's chromium package (.ci/run installs it); "
                    "deselect them with -m 'not browser'")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.js_errors = errors
    yield page
    context.close()
