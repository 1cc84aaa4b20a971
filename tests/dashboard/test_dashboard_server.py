"""The dashboard's HTTP endpoints, over real experiment folders."""

import json
import os

import httpx
import numpy as np
import pytest

from tunesmith.dashboard._lttb import lttb
from tunesmith.dashboard._server import MAX_POINTS, DashboardServer


@pytest.fixture
def client(finished, cache_dir):
    with DashboardServer(finished, cache_dir=cache_dir) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


def _trial_ids(client):
    return [row["trial_id"] for row in client.get("/api/experiments/exp/trials?sort=config/lr").json()["rows"]]


def test_server_binds_localhost_by_default(finished, cache_dir):
    with DashboardServer(finished, cache_dir=cache_dir) as server:
        assert server.url.startswith("http://127.0.0.1:")


def test_summary_names_status_counts_and_best(client):
    summary = client.get("/api/experiments/exp").json()
    assert summary["status"] == "finished"
    assert summary["counts"]["TERMINATED"] == 2 and summary["counts"]["ERROR"] == 1
    assert summary["best"] == pytest.approx(0.1) and summary["metrics"] == ["loss", "acc"]
    assert summary["params"] == ["lr", "opt"]


def test_trials_are_paged_sorted_and_filtered_on_the_server(client):
    page = client.get("/api/experiments/exp/trials", params={"sort": "loss", "desc": "1", "limit": 2, "offset": 1}).json()
    assert page["total"] == 3 and [row["config/lr"] for row in page["rows"]] == [0.2, 0.1]
    page = client.get("/api/experiments/exp/trials", params={"filter": "status==ERROR; config/opt~ada"}).json()
    assert [row["config/lr"] for row in page["rows"]] == [0.3]


def test_error_endpoint_and_curve(client):
    errored = _trial_ids(client)[2]
    detail = client.get(f"/api/experiments/exp/trials/{errored}").json()
    assert "ValueError: lr 0.3 is too large" in detail["error"]
    curve = client.get(f"/api/experiments/exp/trials/{errored}/curve", params={"metric": "loss"}).json()
    assert curve["x"] == [1, 2, 3, 4] and curve["y"] == pytest.approx([1.2, 0.9, 0.6, 0.3])
    assert [e["kind"] for e in curve["events"]] == ["failed", "finished"]


@pytest.mark.parametrize(
    ("method", "path", "status", "message"),
    [
        ("GET", "/api/experiments/nope", 404, "no experiment 'nope'"),
        ("GET", "/api/experiments/exp/trials/nope", 400, "no trial 'nope'"),
        ("GET", "/api/experiments/exp/trials?filter=loss", 400, "a filter is 'COLUMN OP VALUE'"),
        ("POST", "/api/experiments/exp", 405, ""),
        ("DELETE", "/api/experiments/exp/trials", 405, ""),
    ],
)
def test_bad_requests_and_no_write_endpoints(client, method, path, status, message):
    response = client.request(method, path)
    assert response.status_code == status
    assert message in response.text


def test_search_views_best_so_far_is_monotone(client):
    body = client.get("/api/experiments/exp/search").json()
    values = [step[1] for step in body["best_so_far"]]
    assert values == sorted(values, reverse=True) and values[-1] == pytest.approx(0.1)
    assert {p["params"]["lr"] for p in body["points"]} == {0.1, 0.2, 0.3}


def test_a_long_curve_is_cut_to_max_points(finished, cache_dir):
    """A trial with 50,000 results is served as at most MAX_POINTS points, the extremes kept."""
    folder = os.path.join(finished, "exp")
    with DashboardServer(finished, cache_dir=cache_dir) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        trial = _trial_ids(client)[0]
        dirname = next(d for d in os.listdir(folder) if trial in d)
        with open(os.path.join(folder, dirname, "result.json"), "w") as f:
            for step in range(1, 50_001):
                f.write(json.dumps({"training_iteration": step, "loss": 5.0 if step == 31_337 else np.sin(step / 500)}) + "\n")
        curve = client.get(f"/api/experiments/exp/trials/{trial}/curve").json()
    assert curve["points"] == 50_000 and len(curve["x"]) == MAX_POINTS
    assert 31_337 in curve["x"] and max(curve["y"]) == 5.0


@pytest.mark.parametrize(("n", "expected"), [(3, [0, 3, 9]), (10, list(range(10))), (20, list(range(10)))])
def test_lttb_keeps_the_ends_and_the_spike(n, expected):
    y = np.zeros(10)
    y[3] = 9
    assert lttb(np.arange(10.0), y, n).tolist() == expected
