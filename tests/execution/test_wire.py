"""What travels to trials: configs with functions, large with_parameters data, sent once."""

import os
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import tunesmith as tune
from tunesmith import _protocol
from tunesmith.execution import _wire


def test_a_lambda_inside_grid_search_reaches_the_trial(run):
    def train(config):
        tune.report({"y": config["f"](3)})

    grid = run(train, {"f": tune.grid_search([lambda x: x + 1, lambda x: x * 10])}, metric="y", mode="max")
    assert not grid.errors
    assert sorted(r.metrics["y"] for r in grid) == [4, 30]


def test_script_defined_functions_and_classes_in_param_space(tmp_path):
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(f"""
        import tunesmith as tune

        def double(x):
            return 2 * x

        class Scale:
            def __init__(self, k):
                self.k = k

        def train(config):
            tune.report({{"y": config["fn"](config["scale"].k)}})

        grid = tune.Tuner(train, param_space={{"fn": double, "scale": tune.grid_search([Scale(1), Scale(5)])}},
                          run_config=tune.RunConfig(storage_path={str(tmp_path)!r}, verbose=0)).fit()
        print("errors", len(grid.errors), sorted(r.metrics["y"] for r in grid))
    """))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=120)
    assert "errors 0 [2, 10]" in out.stdout, out.stderr[-2000:]


def _sum_data(config, data):
    tune.report({"total": float(data.sum()), "n": len(data)})


def test_with_parameters_data_is_pickled_once_and_sent_once_per_process(run, servers):
    data = np.arange(1_000_000)  # 8 MB: more than a socket buffer takes at once
    grid = run(tune.with_parameters(_sum_data, data=data), {"x": tune.grid_search(list(range(6)))},
               metric="total", mode="max")
    assert not grid.errors and {r.metrics["total"] for r in grid} == {float(data.sum())}
    stats = servers[0].stats
    processes = len({r.metrics["pid"] for r in grid})
    assert stats.assignments == 6
    assert 1 <= stats.trainables_sent <= processes
    assert stats.trainable_bytes < stats.trainables_sent * (data.nbytes + 1_000_000)
    per_assignment = (stats.bytes_sent - stats.trainable_bytes) / stats.assignments
    assert per_assignment < 20_000, per_assignment  # the config and the decisions, never the data


@pytest.mark.slow
def test_a_100_mb_with_parameters_assignment_streams_without_blocking_the_driver(run):
    data = np.ones(100_000_000 // 8)
    [result] = run(tune.with_parameters(_sum_data, data=data), metric="total", mode="max")
    assert result.error is None and result.metrics["n"] == len(data)


class NoisyError(Exception):
    """Its ``__init__`` leaves a trace of the process that ran it."""

    def __init__(self, folder, code):
        with open(os.path.join(folder, f"init-{os.getpid()}"), "w"):
            pass
        super().__init__(folder, code)


def test_a_users_exception_comes_back_as_itself_without_running_its_init_in_the_driver(run, tmp_path):
    folder = str(tmp_path)

    def train(config):
        raise NoisyError(folder, 7)

    [result] = run(train)
    assert type(result.error) is NoisyError and result.error.args == (folder, 7)
    assert f"init-{os.getpid()}" not in os.listdir(folder) and len(os.listdir(folder)) >= 1
    assert "raise NoisyError(folder, 7)" in "".join(getattr(result.error, "__notes__", []))


@pytest.mark.parametrize("reuse", [False, True])
def test_a_trainable_is_sent_once_per_worker_even_when_each_trial_has_a_fresh_process(run, servers, reuse):
    """The worker keeps the pickle its first child received (a memory file), so later
    children read it there; each still unpickles it itself (see test_trial_isolation)."""
    tune.init(num_cpus=1)
    data = np.arange(300_000)
    grid = run(tune.with_parameters(_sum_data, data=data), {"x": tune.grid_search(list(range(4)))},
               metric="total", mode="max", reuse_actors=reuse)
    assert not grid.errors and {r.metrics["total"] for r in grid} == {float(data.sum())}
    assert len({r.metrics["pid"] for r in grid}) == (1 if reuse else 4)
    assert servers[0].stats.assignments == 4 and servers[0].stats.trainables_sent == 1


@pytest.mark.parametrize("seq", [0, 7, 12345, 10**15])
@pytest.mark.parametrize(("decision", "save"), [("CONTINUE", False), ("STOP", False), ("PAUSE", False), ("CONTINUE", True)])
def test_a_decision_frame_from_its_template_is_the_one_the_encoder_makes(seq, decision, save):
    data = _wire.decision_frame(seq, decision, save)
    assert data == _wire.frame_bytes(_protocol.Decision(seq, decision, save))
    ours, theirs = socket.socketpair()
    ours.sendall(data)
    assert _wire.recv_frame(theirs) == _protocol.Decision(seq, decision, save)


def test_a_decision_frame_for_an_unknown_decision_is_refused():
    with pytest.raises(_protocol.ProtocolError, match="decision must be one of"):
        _wire.decision_frame(1, "MAYBE")
