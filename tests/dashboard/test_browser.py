"""The dashboard in a real browser (headless Chromium): what a user sees.

Each test saves a screenshot of its view in its tmp folder.
"""

import os
import re

import pytest

from tunesmith.dashboard._server import DashboardServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_the_table_shows_the_trials_and_a_click_draws_a_curve(finished, page, tmp_path, cache_dir):
    with DashboardServer(finished, cache_dir=cache_dir) as server:
        page.goto(server.url)
        page.wait_for_selector("tr[data-trial]")
        rows = page.locator("tbody tr")
        assert rows.count() == 3
        assert page.locator("#status").inner_text() == "finished"
        statuses = sorted(page.locator("td.status").all_inner_texts())
        assert statuses == ["ERROR", "TERMINATED", "TERMINATED"]
        page.locator("th[data-col='loss']").click()  # sorts best first
        page.wait_for_function("document.querySelector('tbody tr td.num') !== null")
        page.wait_for_selector("th.sorted[data-col='loss']")
        first = page.locator("tbody tr").first
        first.click()
        page.wait_for_selector("#curve canvas")
        assert "(TERMINATED)" in page.locator("#trial-title").inner_text()
        assert page.locator("#curve .u-legend").inner_text().count("lr") == 0  # legend names the trial, not params
        assert re.search(r"_\w+_00000", page.locator("#trial-title").inner_text())
        page.screenshot(path=str(tmp_path / "table_and_curve.png"), full_page=True)
        assert page.js_errors == []


def test_an_errored_trial_shows_its_error_one_click_from_the_table(finished, page, tmp_path, cache_dir):
    with DashboardServer(finished, cache_dir=cache_dir) as server:
        page.goto(server.url)
        page.wait_for_selector("td.status >> text=ERROR")
        page.locator("tr", has=page.locator("td.status >> text=ERROR")).click()
        page.wait_for_selector("#error:not([hidden])")
        error = page.locator("#error").inner_text()
        assert "ValueError: lr 0.3 is too large" in error and "Traceback" in error
        assert "failed" in page.locator("#events").inner_text()
        page.screenshot(path=str(tmp_path / "error.png"), full_page=True)


def test_filter_columns_and_search_views(finished, page, tmp_path, cache_dir):
    with DashboardServer(finished, cache_dir=cache_dir) as server:
        page.goto(server.url)
        page.wait_for_selector("tr[data-trial]")
        page.fill("#filter", "config/lr<0.15")
        page.wait_for_function("document.querySelectorAll('tbody tr').length === 1")
        assert "filtered from 3" in page.locator("#page-info").inner_text()
        page.locator("#columns summary").click()
        page.locator("#column-list input[data-col='acc']").uncheck()
        page.wait_for_function("!document.querySelector(\"th[data-col='acc']\")")
        page.locator("button[data-tab='search-view']").click()
        page.wait_for_selector("#best-so-far canvas")
        page.wait_for_selector("#scatter canvas")
        assert "3 trials with loss" in page.locator("#search-info").inner_text()
        drawn = page.evaluate("""() => { const c = document.querySelector('#parallel');
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let ink = 0; for (let i = 3; i < d.length; i += 4) ink += d[i] > 0; return ink; }""")
        assert drawn > 1000  # axes and lines were drawn
        page.screenshot(path=str(tmp_path / "search.png"), full_page=True)
        assert page.js_errors == []


def test_a_result_of_a_running_experiment_appears_live(running, page, tmp_path, cache_dir):
    journal = os.path.join(running, "live", "journal.jsonl")
    with DashboardServer(running, cache_dir=cache_dir) as server:
        for _ in range(200):  # the driver starts in its own process: wait for its first trial
            if os.path.exists(journal) and b"trial_started" in open(journal, "rb").read():
                break
            page.wait_for_timeout(100)
        page.goto(server.url)
        page.wait_for_selector("tr[data-trial]")
        assert page.locator("#status").inner_text() == "running"
        page.locator("tbody tr").first.click()
        page.wait_for_selector("#curve canvas")
        seen = page.evaluate(_iter_cell())
        # No reload from here on: the page must update itself (generous bound; results come 0.3 s apart).
        page.wait_for_function(f"({_iter_cell()})() >= {seen + 2}", timeout=10_000)
        page.screenshot(path=str(tmp_path / "live.png"), full_page=True)
        assert page.js_errors == []


def _iter_cell() -> str:
    return """() => { const heads = [...document.querySelectorAll('thead th')].map(th => th.dataset.col);
        const cell = document.querySelector('tbody tr').children[heads.indexOf('iter')];
        return Number(cell.textContent); }"""
