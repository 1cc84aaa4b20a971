"""Ray Tune 2.60's own examples, run as they are after the import rewrite a user makes.

The examples are read from the installed ``ray`` package (``ray`` is in the ``test`` extra;
nothing of Ray's is copied into this repository), rewritten by ``ray_rewrite.py`` into a
temporary folder, and run with ``--smoke-test`` where they take it. Those that cannot run here
are listed with the reason, as in ``docs/compatibility.md``.
"""

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from ray_rewrite import rewrite

import tunesmith

_spec = importlib.util.find_spec("ray")  # the package's folder, without importing Ray
_RAY = Path(_spec.origin).parent if _spec and _spec.origin else None
_VERSION = re.search(r'^version = "([^"]+)"', (_RAY / "_version.py").read_text(), re.M) if _RAY else None
# The lists below are for Ray 2.60's examples; another Ray has other examples.
RAY_EXAMPLES = _RAY / "tune" / "examples" if _VERSION and _VERSION.group(1).startswith("2.60.") else None

_TORCHVISION = "needs torchvision and downloads MNIST/CIFAR-10 (no network in the test run)"
_TENSORFLOW = "needs TensorFlow (not in the test extra) and downloads its dataset"
_HF = "needs Hugging Face `datasets`/`transformers` and downloads a dataset"
_RLLIB = "RLlib's `PPO` is a Ray actor trainable: there is no RLlib here (and it needs gymnasium)"
NOT_RUN = {
    "ax_example.py": pytest.mark.skip(reason="Ax's BoTorch steps take minutes each here (over 300 s for the smoke test "
                                             "on 2 CPUs); tests/search/test_ax.py covers AxSearch in Ax's Sobol phase"),
    "cifar10_pytorch.py": pytest.mark.skip(reason=_TORCHVISION),
    "mnist_pytorch.py": pytest.mark.skip(reason=_TORCHVISION),
    "mnist_pytorch_trainable.py": pytest.mark.skip(reason=_TORCHVISION),
    "pbt_convnet_example.py": pytest.mark.skip(reason=_TORCHVISION),
    "pbt_convnet_function_example.py": pytest.mark.skip(reason=_TORCHVISION),
    "pbt_dcgan_mnist/pbt_dcgan_mnist_func.py": pytest.mark.skip(reason=_TORCHVISION + "; also uses ray.put/ray.get"),
    "pbt_dcgan_mnist/pbt_dcgan_mnist_trainable.py": pytest.mark.skip(reason=_TORCHVISION + "; also uses ray.put/ray.get"),
    "mlflow_ptl.py": pytest.mark.skip(reason=_HF),
    "mnist_ptl_mini.py": pytest.mark.skip(reason=_HF),
    "pbt_transformers/pbt_transformers.py": pytest.mark.skip(reason=_HF),
    "pbt_memnn_example.py": pytest.mark.skip(reason=_TENSORFLOW),
    "pbt_tune_cifar10_with_keras.py": pytest.mark.skip(reason=_TENSORFLOW),
    "tf_mnist_example.py": pytest.mark.skip(reason=_TENSORFLOW),
    "tune_mnist_keras.py": pytest.mark.skip(reason=_TENSORFLOW),
    "pb2_ppo_example.py": pytest.mark.xfail(run=False, reason=_RLLIB),
    "pbt_ppo_example.py": pytest.mark.xfail(run=False, reason=_RLLIB),
}
# Over ~8 s each on 2 shared CPUs.
SLOW = {"bayesopt_example.py", "bohb_example.py", "hyperopt_conditional_search_space_example.py",
        "lightgbm_example.py", "mlflow_example.py", "nevergrad_example.py", "optuna_define_by_run_example.py",
        "optuna_example.py", "optuna_multiobjective_example.py", "xgboost_example.py",
        "xgboost_dynamic_resources_example.py"}
_HELPERS = {"__init__.py", "utils.py", "common.py"}


def _examples() -> list:
    if RAY_EXAMPLES is None:
        return [pytest.param("no ray 2.60", marks=pytest.mark.skip(reason="ray 2.60 is not installed"))]
    names = sorted(p.relative_to(RAY_EXAMPLES).as_posix() for p in RAY_EXAMPLES.rglob("*.py") if p.name not in _HELPERS)
    marked = []
    for name in names:
        marks = [NOT_RUN[name]] if name in NOT_RUN else []
        marks += [pytest.mark.slow] if name in SLOW else []
        marked.append(pytest.param(name, marks=marks, id=name))
    return marked


@pytest.fixture(scope="session")
def rewritten(tmp_path_factory):
    """Every file of Ray's examples folder, rewritten, in a temporary folder of the same layout."""
    root = tmp_path_factory.mktemp("ray_examples")
    for source in RAY_EXAMPLES.rglob("*.py"):
        target = root / source.relative_to(RAY_EXAMPLES)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(rewrite(source.read_text(encoding="utf-8")), encoding="utf-8")
    return root


def test_every_example_is_run_or_listed():
    if RAY_EXAMPLES is None:
        pytest.skip("ray 2.60 is not installed")
    names = {p.relative_to(RAY_EXAMPLES).as_posix() for p in RAY_EXAMPLES.rglob("*.py") if p.name not in _HELPERS}
    assert set(NOT_RUN) <= names, "listed examples that Ray no longer has"
    docs = (Path(__file__).parents[2] / "docs" / "compatibility.md").read_text(encoding="utf-8")
    missing = [name for name in NOT_RUN if f"`{name}`" not in docs]
    assert not missing, f"docs/compatibility.md does not say why these do not run: {missing}"


@pytest.mark.timeout(330)
@pytest.mark.parametrize("example", _examples())
def test_ray_example_runs(example, rewritten, tmp_path):
    script = rewritten / example
    args = ["--smoke-test"] if "smoke" in script.read_text(encoding="utf-8") else []
    src = str(Path(tunesmith.__file__).parents[1])
    env = dict(os.environ, HOME=str(tmp_path), TUNESMITH_STORAGE_PATH=str(tmp_path / "results"),
               PYTHONPATH=os.pathsep.join([src, str(rewritten), os.environ.get("PYTHONPATH", "")]),
               MLFLOW_ALLOW_FILE_STORE="true")  # mlflow_example uses a file store, which MLflow 3 refuses by default
    out = subprocess.run([sys.executable, script.name, *args], cwd=script.parent, env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, f"{example} exited with {out.returncode}:\n{out.stdout[-3000:]}\n{out.stderr[-5000:]}"
