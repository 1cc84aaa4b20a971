"""The searcher examples run with ``--smoke-test``, each as its own process (as a user runs it).

Each run writes under ``TUNESMITH_STORAGE_PATH`` (a temporary folder), set for the example's
process only. Examples whose libraries are slow to import or whose trials train a network
are marked slow.
"""

import importlib.util
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SLOW = pytest.mark.slow
EXAMPLES = [
    # (file, modules it needs, lines its output must hold, marks)
    ("optuna_example.py", ["optuna"], ["Finished: 10 trials (10 TERMINATED)", "Best hyperparameters found were: "], []),
    ("optuna_define_by_run_example.py", ["optuna"],
     ["Finished: 10 trials (10 TERMINATED)", "Best hyperparameters for loss found were: "], []),
    ("optuna_multiobjective_example.py", ["optuna"],
     ["Finished: 10 trials (10 TERMINATED)", "Best hyperparameters for loss found were: ",
      "Best hyperparameters for gain found were: "], []),
    ("hyperopt_conditional_search_space_example.py", ["hyperopt"],
     ["Finished: 10 trials (10 TERMINATED)", "Best hyperparameters found were: "], []),
    ("bayesopt_example.py", ["bayes_opt"], ["Finished: 10 trials", "Best hyperparameters found were: "], [SLOW]),
    ("nevergrad_example.py", ["nevergrad"], ["Finished: 10 trials", "Best hyperparameters found were: "], [SLOW]),
    ("bohb_example.py", ["ConfigSpace"], ["Finished: 8 trials (8 TERMINATED)", "Best hyperparameters found were: "],
     [SLOW]),
    ("ax_example.py", ["ax"], ["Finished: 6 trials", "Best hyperparameters found were: "], [SLOW]),
    ("keras_hyperopt.py", ["keras", "torch", "sklearn", "hyperopt"],
     ["Finished: 4 trials (4 TERMINATED)", "Best first-layer activation: "], [SLOW]),
    ("pytorch_optuna.py", ["torch", "sklearn", "optuna"],
     ["Finished: 4 trials (4 TERMINATED)", "Iterations per trial: [5, 5, 5, 5]", "Best SGD config: "], [SLOW]),
]


@pytest.mark.timeout(600)
@pytest.mark.parametrize(
    ("filename", "needs", "expected"),
    [pytest.param(f, n, e, marks=m, id=f.removesuffix(".py")) for f, n, e, m in EXAMPLES],
)
def test_example_runs_with_smoke_test(filename, needs, expected, tmp_path):
    missing = [module for module in needs if importlib.util.find_spec(module) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)}")
    env = dict(os.environ, TUNESMITH_STORAGE_PATH=str(tmp_path))
    out = subprocess.run([sys.executable, os.path.join(ROOT, "examples", filename), "--smoke-test"],
                         capture_output=True, text=True, env=env, timeout=540, cwd=str(tmp_path))
    assert out.returncode == 0, out.stderr[-3000:]
    for line in expected:
        assert line in out.stdout, out.stdout[-3000:]
    assert os.listdir(tmp_path), "the example wrote nothing under TUNESMITH_STORAGE_PATH"
