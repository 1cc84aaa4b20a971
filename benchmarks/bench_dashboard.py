"""The dashboard on a 100,000-trial experiment: time to first view, paging, curves, memory.

The experiment is written synthetically (journal, params.json and result.json for every
trial, as the driver writes them), then served by the real dashboard server and asked what
a browser asks when it opens the page. The trial index starts cold (a fresh cache folder)
unless ``--cache-dir`` names one a previous run filled. Run:

    python benchmarks/bench_dashboard.py [--trials 100000] [--rows 10] [--folder /tmp/bench_dashboard]
    python benchmarks/bench_dashboard.py --trials 20000 --folder /tmp/bench_dashboard_20k   # memory is flat in trials
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time

import httpx
import psutil

from tunesmith.dashboard._server import DashboardServer


def write_experiment(folder: str, trials: int, rows: int) -> str:
    experiment = os.path.join(folder, "big")
    if os.path.exists(os.path.join(experiment, "journal.jsonl")):
        return experiment  # reuse: writing 100,000 folders takes a while
    os.makedirs(experiment)
    rng, start = random.Random(0), time.time() - 3600
    with open(os.path.join(experiment, "journal.jsonl"), "w") as journal:
        journal.write(json.dumps({"event": "experiment_started", "time": start, "name": "big", "metric": "loss",
                                  "mode": "min", "trainable": "train", "num_samples": trials}) + "\n")
        for i in range(trials):
            trial_id, config = f"bench_{i:06d}", {"lr": 10 ** rng.uniform(-5, -1), "layers": rng.choice([1, 2, 4, 8])}
            dirname = f"train_{trial_id}"
            os.makedirs(os.path.join(experiment, dirname))
            with open(os.path.join(experiment, dirname, "params.json"), "w") as f:
                json.dump(config, f)
            with open(os.path.join(experiment, dirname, "result.json"), "w") as f:
                for step in range(1, rows + 1):
                    f.write(json.dumps({"loss": config["lr"] * 100 / step + rng.random() * 0.01, "training_iteration": step,
                                        "time_total_s": step * 0.1, "timestamp": int(start + i * 0.03), "trial_id": trial_id}) + "\n")
            t = start + i * 0.03
            journal.write(json.dumps({"event": "trial_added", "time": t, "trial_id": trial_id, "tag": str(i), "config": config,
                                      "params": config, "resources": {"cpu": 1.0}}) + "\n")
            journal.write(json.dumps({"event": "trial_started", "time": t, "trial_id": trial_id, "attempt": 0,
                                      "path": dirname, "restore": None}) + "\n")
            journal.write(json.dumps({"event": "trial_finished", "time": t + 0.02, "trial_id": trial_id,
                                      "status": "TERMINATED"}) + "\n")
        journal.write(json.dumps({"event": "experiment_finished", "time": start + trials * 0.03, "interrupted": False}) + "\n")
    return experiment


def timed(client: httpx.Client, path: str) -> tuple[float, dict]:
    began = time.perf_counter()
    response = client.get(path)
    response.raise_for_status()
    is_json = response.headers.get("content-type", "").startswith("application/json")
    return time.perf_counter() - began, response.json() if is_json else {}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=100_000)
    parser.add_argument("--rows", type=int, default=10)
    parser.add_argument("--folder", default="/tmp/bench_dashboard")
    parser.add_argument("--cache-dir", default=None, help="the index folder (default: a fresh one, a cold index)")
    args = parser.parse_args()
    cache_dir = args.cache_dir or tempfile.mkdtemp(prefix="bench_dashboard_cache_")
    began = time.perf_counter()
    write_experiment(args.folder, args.trials, args.rows)
    print(f"experiment of {args.trials} trials x {args.rows} results ready in {time.perf_counter() - began:.1f} s")
    process = psutil.Process()
    rss0 = process.memory_info().rss
    with DashboardServer(args.folder, cache_dir=cache_dir) as server, httpx.Client(base_url=server.url, timeout=600) as client:
        began, cpu = time.perf_counter(), time.process_time()
        timed(client, "/")
        timed(client, "/api/experiments")
        _, summary = timed(client, "/api/experiments/big")
        _, page = timed(client, "/api/experiments/big/trials?limit=50")
        first_view = time.perf_counter() - began
        print(f"first view (page, list, summary, first table page): {first_view:.2f} s wall, "
              f"{time.process_time() - cpu:.2f} s CPU (server and client); {summary['trials']} trials in it so far")
        print(f"  load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        print(f"  RSS after first view: +{(process.memory_info().rss - rss0) / 2**20:.0f} MB")
        began = time.perf_counter()
        while True:  # the background read of every result file
            _, summary = timed(client, "/api/experiments/big")
            if summary["status"] != "loading" and summary["summarised"] == summary["trials"]:
                break
            time.sleep(0.2)
        print(f"the whole journal and every result file read in the background: {time.perf_counter() - began:.1f} s more")
        for label, path in [("page 1000, unsorted", "/api/experiments/big/trials?offset=50000&limit=50"),
                            ("sorted by loss", "/api/experiments/big/trials?sort=loss&limit=50"),
                            ("filtered lr<1e-4 and sorted", "/api/experiments/big/trials?sort=loss&filter=config/lr<0.0001"),
                            ("one trial's curve", f"/api/experiments/big/trials/{page['rows'][0]['trial_id']}/curve"),
                            ("search views (best so far, 2,000 sampled trials)", "/api/experiments/big/search")]:
            cpu = time.process_time()
            seconds, _ = timed(client, path)
            print(f"  {label}: {seconds * 1000:.0f} ms wall, {(time.process_time() - cpu) * 1000:.0f} ms CPU")
        print(f"  RSS with every trial summarised: +{(process.memory_info().rss - rss0) / 2**20:.0f} MB")
        time.sleep(6)  # the refresh loop hands freed memory back at most every 5 s
        print(f"  RSS a few seconds later (steady): +{(process.memory_info().rss - rss0) / 2**20:.0f} MB")
    index_bytes = sum(os.path.getsize(os.path.join(cache_dir, f)) for f in os.listdir(cache_dir))
    print(f"  index on disk ({cache_dir}): {index_bytes / 2**20:.0f} MB")


if __name__ == "__main__":
    main()
