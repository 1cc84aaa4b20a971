import csv
import io
import json
import os
import re
import subprocess
import sys

import pytest
from click.testing import CliRunner

from tunesmith.cli._commands import cli


def invoke(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_ls_lists_the_experiment_with_status_counts_and_best(finished):
    result = invoke("ls", finished)
    assert result.exit_code == 0
    header, rule, line = result.output.splitlines()
    assert header.split() == ["name", "status", "trials", "best", "started", "duration"]
    assert line.startswith("exp") and "finished" in line and "2 terminated, 1 error" in line
    assert "loss=0.1" in line


def test_ls_json_is_one_object_per_experiment(finished):
    summary = json.loads(invoke("ls", finished, "--json").output)
    assert summary["trials"] == {"terminated": 2, "error": 1}
    assert summary["best"] == pytest.approx(0.1)
    assert summary["status"] == "finished"


def test_show_sorts_best_first_and_limits(finished):
    result = invoke("show", "exp", "--storage", finished, "--sort", "loss", "--limit", "2")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0] == "exp (finished): 3 of 3 trials, showing 2"
    assert lines[1].split()[:3] == ["trial_name", "status", "config/lr"]
    assert [line.split()[2] for line in lines[3:]] == ["0.1", "0.2"]


def test_show_filters_and_prints_csv(finished):
    result = invoke("show", os.path.join(finished, "exp"), "--filter", "status==ERROR", "--csv")
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert [(r["status"], float(r["config/lr"])) for r in rows] == [("ERROR", 0.3)]


def test_show_json_rows_carry_params_and_metrics(finished):
    result = invoke("show", "exp", "--storage", finished, "--json", "--filter", "config/lr<0.15")
    (row,) = [json.loads(line) for line in result.output.splitlines()]
    assert row["config/lr"] == 0.1 and row["iter"] == 3 and row["loss"] == pytest.approx(0.1)
    assert row["best loss"] == pytest.approx(0.1)


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["show", "exq"], 3, "no experiment 'exq'.*Did you mean: exp"),
        (["show", "exp", "--filter", "loss"], 2, "a filter is 'COLUMN OP VALUE'"),
        (["show", "exp", "--sort", "nope"], 2, "no column 'nope'"),
        (["show", "exp", "--limit", "0"], 2, "0 is not in the range"),
        (["bogus"], 2, "No such command 'bogus'"),
    ],
)
def test_errors_have_stable_exit_codes_and_say_what_to_do(finished, args, code, message):
    if args[0] == "show":
        args = [*args, "--storage", finished]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == code
    assert re.search(message, result.output)


def test_ls_of_a_missing_storage_folder_exits_3(tmp_path):
    result = CliRunner().invoke(cli, ["ls", str(tmp_path / "nowhere")])
    assert result.exit_code == 3 and "no storage folder" in result.output


@pytest.mark.parametrize("command", [[], ["ls"], ["show"], ["dashboard"]])
def test_every_command_has_help(command):
    result = invoke(*command, "--help")
    assert result.exit_code == 0 and "Usage: " in result.output


def test_python_dash_m_runs_the_command(finished):
    out = subprocess.run([sys.executable, "-m", "tunesmith", "show", "exp", "--storage", finished, "--json"],
                         capture_output=True, text=True, check=True)
    assert len(out.stdout.splitlines()) == 3


def test_a_running_experiment_shows_running_and_its_rows_so_far(finished):
    """A journal without experiment_finished reads as running while a driver holds the experiment lock."""
    import fcntl

    folder = os.path.join(finished, "exp")
    with open(os.path.join(folder, "journal.jsonl"), "rb") as f:
        lines = f.read().splitlines(keepends=True)
    with open(os.path.join(folder, "journal.jsonl"), "wb") as f:
        f.writelines(line for line in lines if b'"experiment_finished"' not in line)
    with open(os.path.join(folder, ".driver.lock"), "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        assert json.loads(invoke("ls", finished, "--json").output)["status"] == "running"
    assert json.loads(invoke("ls", finished, "--json").output)["status"] == "interrupted"


def test_import_tunesmith_loads_none_of_the_view_libraries():
    code = "import sys, json, tunesmith; print(json.dumps(sorted(sys.modules)))"
    loaded = set(json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout))
    assert not {"click", "starlette", "uvicorn", "plotly", "orjson", "tunesmith.dashboard", "tunesmith.cli"} & loaded


def test_dashboard_with_a_cache_folder_it_cannot_write_says_so(finished, tmp_path):
    not_a_folder = tmp_path / "a-file"
    not_a_folder.write_text("")
    result = CliRunner().invoke(cli, ["dashboard", finished, "--port", "0", "--cache-dir", str(not_a_folder)])
    assert result.exit_code == 1
    assert re.search(r"cannot write '.*a-file'.*pass --cache-dir \(or set TUNESMITH_DASHBOARD_CACHE\)", result.output)
