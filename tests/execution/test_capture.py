import os
import sys

import pytest

import tunesmith as tune
from tunesmith.execution._capture import captured_output, log_files


@pytest.mark.parametrize(
    ("setting", "files"),
    [(False, None), (None, None), (True, ("stdout", "stderr")), ("all.log", ("all.log", "all.log")),
     (("o.txt", "e.txt"), ("o.txt", "e.txt")), (("o.txt", None), ("o.txt", None))],
)
def test_log_to_file_values(setting, files):
    assert log_files(setting) == files


@pytest.mark.parametrize("setting", [1, "", ("a",), ("a", "b", "c"), {"out": "a"}, ("a", 3)])
def test_other_log_to_file_values_are_refused(setting):
    with pytest.raises(ValueError, match="log_to_file must be True, a file name, or a .stdout, stderr. pair"):
        log_files(setting)


def test_capture_takes_python_and_file_descriptor_output_and_restores_it(tmp_path, capfd):
    with captured_output(("out.txt", "err.txt"), str(tmp_path)):
        print("python stdout")
        print("python stderr", file=sys.stderr)
        os.write(1, b"fd stdout\n")
        os.system("echo child process")
    print("after")
    assert (tmp_path / "out.txt").read_text() == "python stdout\nfd stdout\nchild process\n"
    assert (tmp_path / "err.txt").read_text() == "python stderr\n"
    assert capfd.readouterr().out == "after\n"


def chatty(config):
    print(f"trial {config['a']} says hi")
    print(f"trial {config['a']} complains", file=sys.stderr)
    os.system(f"echo trial {config['a']} child")
    return {"score": config["a"]}


def test_true_writes_stdout_and_stderr_files_per_trial(run, capfd):
    results = run(chatty, {"a": tune.grid_search([1, 2])}, max_concurrent_trials=1, run_config={"log_to_file": True})
    for result in results:
        a = result.config["a"]
        with open(os.path.join(result.path, "stdout")) as f:
            assert f.read() == f"trial {a} says hi\ntrial {a} child\n"
        with open(os.path.join(result.path, "stderr")) as f:
            assert f.read() == f"trial {a} complains\n"
    assert "says hi" not in capfd.readouterr().out


@pytest.mark.parametrize(("setting", "names"), [("all.log", ["all.log"]), (("o.log", "e.log"), ["o.log", "e.log"])])
def test_a_name_or_a_pair_of_names(run, setting, names):
    (result,) = run(chatty, {"a": 1}, run_config={"log_to_file": setting})
    text = "".join(open(os.path.join(result.path, name)).read() for name in names)
    assert "trial 1 says hi" in text and "trial 1 complains" in text and "trial 1 child" in text


def test_a_bad_value_fails_before_any_trial_runs(run):
    with pytest.raises(ValueError, match="log_to_file must be True, a file name"):
        run(chatty, {"a": 1}, run_config={"log_to_file": 5})
