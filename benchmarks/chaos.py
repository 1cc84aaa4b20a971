"""Chaos run: random SIGKILLs of the driver and of trial processes, then a full restore.

Usage:
    python benchmarks/chaos.py [--kills 20] [--seed 0] [--storage DIR]

An experiment of 4 trials counts to 30 (a checkpoint every 3 steps, retries without
limit). Each round starts the driver (fresh, or ``Tuner.restore`` once the experiment
exists), waits a random while, then SIGKILLs either the driver or one trial process.
After the last kill the experiment is restored and run to the end. Every trial's
``result.json`` must then hold each step exactly once. The report gives
kills / lost results / duplicated rows / corrupt files; the target is N / 0 / 0 / 0.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time

STEPS = 30
TRIALS = 4

DRIVER = """
import os, sys, time
import tunesmith as tune

def counting(config):
    start = 0
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as d:
            start = int(open(os.path.join(d, "n")).read())
    for n in range(start + 1, {steps} + 1):
        time.sleep(0.03)
        checkpoint = None
        if n % 3 == 0:
            folder = os.path.join(os.getcwd(), "scratch_%d" % n)
            os.makedirs(folder, exist_ok=True)
            with open(os.path.join(folder, "n"), "w") as f:
                f.write(str(n))
            checkpoint = tune.Checkpoint.from_directory(folder)
        tune.report({{"n": n}}, checkpoint=checkpoint)

path = os.path.join(sys.argv[1], "chaos")
if tune.Tuner.can_restore(path):
    tuner = tune.Tuner.restore(path, counting, resume_errored=True)
else:
    tuner = tune.Tuner(counting, param_space={{"t": tune.grid_search(list(range({trials})))}},
                       run_config=tune.RunConfig(storage_path=sys.argv[1], name="chaos", verbose=0,
                                                 failure_config=tune.FailureConfig(max_failures=-1)))
results = tuner.fit()
print("DONE", results.num_terminated, results.num_errors)
"""


def _trial_pids(driver_pid: int, experiment: str) -> list[int]:
    """The driver's trial processes: its children running the worker, or the children of
    its fork server, which also forks the log writer (named in its lock file; left alone)."""
    try:
        with open(os.path.join(experiment, ".log-writer.lock")) as f:
            writer = int(f.read().split()[2])
    except (OSError, IndexError, ValueError):
        writer = None
    children: dict[int, list[int]] = {}
    commands: dict[int, bytes] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                commands[int(entry)] = f.read()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    pids = []
    for child in children.get(driver_pid, []):
        if b"_forkserver" in commands.get(child, b""):
            pids += [p for p in children.get(child, []) if p != writer]
        elif b"_worker" in commands.get(child, b""):
            pids.append(child)
    return pids


def _start(code: str, storage: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code, storage], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True)


def _check(exp: str) -> dict[str, int]:
    lost = duplicated = corrupt = 0
    for name in sorted(os.listdir(exp)):
        result = os.path.join(exp, name, "result.json")
        if not os.path.isfile(result):
            continue
        values = []
        with open(result) as f:
            for line in f:
                try:
                    values.append(json.loads(line)["n"])
                except (json.JSONDecodeError, KeyError):
                    corrupt += 1
        lost += len(set(range(1, STEPS + 1)) - set(values))
        duplicated += len(values) - len(set(values))
    with open(os.path.join(exp, "journal.jsonl")) as f:
        for line in f:
            try:
                json.loads(line)
            except json.JSONDecodeError:
                corrupt += 1
    return {"lost": lost, "duplicated": duplicated, "corrupt": corrupt}


def run(kills: int, seed: int, storage: str) -> dict[str, int]:
    rng = random.Random(seed)
    code = DRIVER.format(steps=STEPS, trials=TRIALS)
    report = {"driver_kills": 0, "trial_kills": 0, "experiments": 0, "lost": 0, "duplicated": 0, "corrupt": 0}
    proc = None
    while report["driver_kills"] + report["trial_kills"] < kills:
        if proc is None or proc.poll() is not None:
            if proc is not None and proc.returncode == 0:
                _finish(storage, report)  # it ended between kills: check it, start a new one
            proc = _start(code, storage)
        time.sleep(rng.uniform(1.0, 3.0))
        if proc.poll() is not None:
            continue
        workers = _trial_pids(proc.pid, os.path.join(storage, "chaos"))
        kill_trial = rng.random() < 0.5
        while kill_trial and not workers and proc.poll() is None:
            time.sleep(0.2)
            workers = _trial_pids(proc.pid, os.path.join(storage, "chaos"))
        if kill_trial and workers:
            os.kill(rng.choice(workers), signal.SIGKILL)
            report["trial_kills"] += 1
        else:
            proc.kill()
            proc.wait()
            report["driver_kills"] += 1
    if proc is not None and proc.poll() is None:
        proc.wait(300)
    if os.path.exists(os.path.join(storage, "chaos")):
        final = _start(code, storage)
        final.communicate(timeout=300)
        _finish(storage, report)
    return report


def _finish(storage: str, report: dict[str, int]) -> None:
    exp = os.path.join(storage, "chaos")
    for key, value in _check(exp).items():
        report[key] += value
    report["experiments"] += 1
    os.rename(exp, os.path.join(storage, f"checked_{report['experiments']}"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--storage", default=None)
    args = parser.parse_args()
    storage = args.storage or tempfile.mkdtemp(prefix="tunesmith_chaos_")
    report = run(args.kills, args.seed, storage)
    kills = report["driver_kills"] + report["trial_kills"]
    print(f"kills: {kills} ({report['driver_kills']} of the driver, {report['trial_kills']} of trial processes) "
          f"over {report['experiments']} experiments of {TRIALS} trials x {STEPS} steps")
    print(f"runs / lost results / duplicated rows / corrupt files: "
          f"{kills} / {report['lost']} / {report['duplicated']} / {report['corrupt']}")


if __name__ == "__main__":
    main()
