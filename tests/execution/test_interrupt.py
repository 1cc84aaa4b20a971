import json
import os
import signal
import subprocess
import sys
import time

SCRIPT = """
import sys, time
import tunesmith as tune

STARTED = sys.argv[2]

def train(config):
    open(STARTED, "a").write("started\\n")
    for i in range(1000):
        time.sleep(0.05)
        tune.report({"i": i})

results = tune.Tuner(train, param_space={"x": tune.grid_search([1, 2])},
                     run_config=tune.RunConfig(storage_path=sys.argv[1], name="int")).fit()
print("fit returned", [r.metrics.get("training_iteration", 0) > 0 for r in results])
"""


def test_ctrl_c_stops_gracefully_and_fit_returns(tmp_path):
    started = tmp_path / "started"
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, str(tmp_path), str(started)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while (not started.exists() or started.read_text().count("started") < 2) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "fit returned [True, True]" in out
    assert "Interrupted. Resume with" in out
    with open(os.path.join(tmp_path, "int", "journal.jsonl")) as f:
        events = [json.loads(line)["event"] for line in f]
    assert "trial_finished" not in events  # both trials stay resumable
    assert events[-1] == "experiment_finished"


def test_second_ctrl_c_stops_at_once_and_the_journal_stays_valid(tmp_path):
    started = tmp_path / "started"
    code = SCRIPT.replace("for i in range(1000):", "import signal; signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                          "    for i in range(1000):")
    proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path), str(started)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while (not started.exists() or started.read_text().count("started") < 2) and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=30)
    from tunesmith.storage import read_journal

    records = read_journal(os.path.join(tmp_path, "int", "journal.jsonl"))
    assert records[0]["event"] == "experiment_started"
    assert [r for r in records if r["event"] == "trial_started"]
