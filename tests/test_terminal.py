"""The live status table, as a person sees it in a real pseudo-terminal."""

import os
import re
import sys
import time

import pytest

pexpect = pytest.importorskip("pexpect")
pyte = pytest.importorskip("pyte")

COLUMNS, LINES = 130, 45

SCRIPT = """
import sys, time
import tunesmith as tune

def train(config):
    for i in range(8):
        time.sleep(0.25)
        tune.report({"score": config["a"] * (i + 1), "loss": 1.0 / (i + 1)})

tune.Tuner(train, param_space={"a": tune.grid_search([1, 2, 3])},
           tune_config=tune.TuneConfig(metric="score", mode="max", max_concurrent_trials=2),
           run_config=tune.RunConfig(storage_path=sys.argv[1], name="term")).fit()
print("script done")
"""


class Terminal:
    """A pseudo-terminal running a command, and the screen a terminal emulator would show."""

    def __init__(self, argv, env):
        self.screen = pyte.Screen(COLUMNS, LINES)
        self.stream = pyte.ByteStream(self.screen)
        self.raw = b""
        self.child = pexpect.spawn(argv[0], argv[1:], env=env, dimensions=(LINES, COLUMNS), timeout=60)

    def read(self, seconds):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                chunk = self.child.read_nonblocking(65536, timeout=0.1)
            except pexpect.TIMEOUT:
                continue
            except pexpect.EOF:
                return False
            self.raw += chunk
            self.stream.feed(chunk)
        return True

    def read_until(self, text, seconds=60):
        deadline = time.monotonic() + seconds
        while text not in self.text():
            if time.monotonic() > deadline or not self.read(0.2):
                break
        return text in self.text()

    def text(self):
        return "\n".join(line.rstrip() for line in self.screen.display)


def test_the_live_table_redraws_in_place_and_ends_with_the_best_trial(tmp_path):
    script = tmp_path / "tune_script.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1", "TERM": "xterm"}
    terminal = Terminal([sys.executable, str(script), str(tmp_path / "results")], env)
    try:
        assert terminal.read_until("RUNNING"), terminal.text()
        assert terminal.read_until("| score"), terminal.text()
        live = terminal.text()
        assert "== Status ==" in live and "Number of trials:" in live
        assert live.count("Trial name") == 1  # redrawn in place: one table on screen, not one per refresh
        assert live.count("RUNNING") >= 1
        assert terminal.read_until("script done", 90), terminal.text()
    finally:
        terminal.child.close(force=True)
    final = terminal.text()
    assert final.count("Trial name") == 1 and final.count("== Status ==") == 1
    assert "3 TERMINATED" in final and "RUNNING |" not in final
    assert "Best trial: train_" in final and "with score=24" in final and "config {'a': 3}" in final
    for a, score in ((1, 8), (2, 16), (3, 24)):
        row = rf"\| train_\w+ +\| TERMINATED +\| {a} \| +8 \|.*\| +{score} \|"
        assert re.search(row, final), (row, final)
    assert terminal.raw.count(b"\x1b[") >= 2  # the block was moved over and cleared, not reprinted below


OUTPUT_SCRIPT = """
import logging, os, sys, time
import tunesmith as tune

def train(config):
    log = logging.getLogger("user")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    for i in range(6):
        print(f"trial a={config['a']} step {i}")
        log.info("logged a=%s step %s", config["a"], i)
        os.write(1, f"raw a={config['a']} step {i}\\n".encode())
        time.sleep(0.2)
        tune.report({"score": config["a"] * i})

log_to_file = sys.argv[2] == "files"
tune.Tuner(train, param_space={"a": tune.grid_search([1, 2])},
           tune_config=tune.TuneConfig(metric="score", mode="max"),
           run_config=tune.RunConfig(storage_path=sys.argv[1], name="out", log_to_file=log_to_file)).fit()
print("script done")
"""


def _run_output_script(tmp_path, mode):
    script = tmp_path / "output_script.py"
    script.write_text(OUTPUT_SCRIPT)
    env = {**os.environ, "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1", "TERM": "xterm"}
    terminal = Terminal([sys.executable, str(script), str(tmp_path / "results"), mode], env)
    try:
        assert terminal.read_until("script done", 90), terminal.text()
    finally:
        terminal.child.close(force=True)
    return terminal


def test_every_line_of_trial_output_is_printed_once_with_its_trial_above_the_table(tmp_path):
    terminal = _run_output_script(tmp_path, "terminal")
    raw = terminal.raw.decode("utf-8", errors="replace")
    for a in (1, 2):
        for i in range(6):
            for text in (f"trial a={a} step {i}", f"INFO logged a={a} step {i}", f"raw a={a} step {i}"):
                found = re.findall(rf"\(train_\w+_0000{a - 1} pid=\d+\) {text}\r?\n", raw)
                assert len(found) == 1, (text, raw[-3000:])
    final = terminal.text()
    assert re.search(r"\(train_\w+ pid=\d+\) .*step 5", final), final  # printed lines are not erased by redraws
    assert final.count("Trial name") == 1 and final.count("== Status ==") == 1  # no torn, repeated table


def test_with_log_to_file_trial_output_goes_to_files_only(tmp_path):
    terminal = _run_output_script(tmp_path, "files")
    assert b"step 0" not in terminal.raw
    outputs = sorted((tmp_path / "results" / "out").glob("train_*/stdout"))
    assert len(outputs) == 2 and all("trial a=" in p.read_text() and "raw a=" in p.read_text() for p in outputs)


def test_piped_output_is_not_relayed(tmp_path):
    import subprocess

    script = tmp_path / "output_script.py"
    script.write_text(OUTPUT_SCRIPT)
    env = {**os.environ, "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1"}
    out = subprocess.run([sys.executable, str(script), str(tmp_path / "results"), "terminal"], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "script done" in out.stdout
    assert "pid=" not in out.stdout  # no relay, no prefixes: as before
    assert not [d for d in os.listdir("/tmp") if d.startswith("tunesmith_output_") and
                os.path.getmtime(os.path.join("/tmp", d)) > os.path.getmtime(script)]
