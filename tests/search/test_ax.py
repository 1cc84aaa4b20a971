import subprocess
import sys

import pytest

ax = pytest.importorskip("ax", reason='needs ax-platform: pip install "tunesmith[ax]"')

from tunesmith.search.ax import AxSearch  # noqa: E402
from tunesmith.search.sample import choice, grid_search, loguniform, qrandint, quniform, randint, randn, uniform  # noqa: E402
from tunesmith.testing import assert_in_space, check_searcher  # noqa: E402

# Ax's first import takes seconds; its Bayesian-optimization steps about 2 s each, so every
# test here stays in the Sobol phase (initialization_budget above the trials it runs).
pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore:The 'future.infer_string' option")]
FAST = {"random_seed": 0, "initialization_budget": 20}
SPACE = {"x": uniform(-5.0, 5.0), "lr": loguniform(1e-4, 1e-1), "units": randint(1, 10), "act": choice(["relu", "tanh"]), "nested": {"p": uniform(0, 1)}, "const": 7}


def _run(searcher, n, loss=lambda c: (c["x"] - 1) ** 2):
    configs = []
    for i in range(n):
        config = searcher.suggest(f"t{i}")
        searcher.on_trial_complete(f"t{i}", {"loss": loss(config)})
        configs.append(config)
    return configs


def test_contract(tmp_path):
    # Ax drops quantization (warned about below), so quantized values are not checked.
    check_searcher(lambda **kw: AxSearch(**FAST, **kw), tmp_path, same_suggestions=True, check_quantization=False)


def test_suggestions_have_the_right_types_and_keep_constants():
    searcher = AxSearch(SPACE, metric="loss", mode="min", **FAST)
    for config in _run(searcher, 4):
        assert_in_space(config, SPACE)
        assert isinstance(config["units"], int) and isinstance(config["x"], float)
        assert config["const"] == 7


def test_points_to_evaluate_come_first():
    point = {"x": 1.5, "lr": 0.01, "units": 3, "act": "tanh", "nested": {"p": 0.25}}
    searcher = AxSearch(SPACE, metric="loss", mode="max", points_to_evaluate=[point], **FAST)
    first = searcher.suggest("a")
    assert first == {**point, "const": 7}


def test_quantization_is_dropped_with_a_warning():
    with pytest.warns(UserWarning, match="ignores the quantization q=5 of parameter 'step'"):
        searcher = AxSearch({"step": qrandint(0, 20, 5), "f": quniform(0, 1, 0.5)}, metric="loss", mode="min", **FAST)
    config = searcher.suggest("a")
    assert 0 <= config["step"] <= 20 and 0 <= config["f"] <= 1


@pytest.mark.parametrize(
    "space, match",
    [
        ({"z": randn(0, 1)}, r"parameter 'z'.*Normal"),
        ({"c": choice(["a", 1])}, r"parameter 'c'.*all str"),
        ({"g": grid_search([1, 2])}, "grid_search"),
    ],
)
def test_unsupported_spaces(space, match):
    with pytest.raises(ValueError, match=match):
        AxSearch(space, metric="loss", mode="min")


def test_native_parameters_and_ray_style_dicts():
    space = [
        ax.RangeParameterConfig(name="x", bounds=(0.0, 1.0), parameter_type="float"),
        {"name": "n", "type": "range", "bounds": [1, 4]},
        {"name": "c", "type": "choice", "values": ["a", "b"]},
        {"name": "k", "type": "fixed", "value": "fixed"},
    ]
    config = AxSearch(space, metric="loss", mode="min", **FAST).suggest("a")
    assert 0 <= config["x"] <= 1 and config["n"] in range(1, 5) and config["c"] in "ab" and config["k"] == "fixed"


def test_constraints_are_respected_and_constraint_metrics_attached():
    searcher = AxSearch(
        {"a": uniform(0, 1), "b": uniform(0, 1)},
        metric="loss",
        mode="min",
        parameter_constraints=["a + b <= 1.0"],
        outcome_constraints=["acc >= 0.5"],
        **FAST,
    )
    configs = _run(searcher, 5, loss=lambda c: c["a"])
    assert all(c["a"] + c["b"] <= 1.0 + 1e-9 for c in configs)


def test_configured_client_is_used_as_is():
    client = ax.Client(random_seed=1)
    client.configure_experiment(parameters=[ax.RangeParameterConfig(name="x", bounds=(0.0, 2.0), parameter_type="float")])
    client.configure_optimization(objective="score")
    searcher = AxSearch(ax_client=client)
    assert (searcher.metric, searcher.mode) == ("score", "max")
    config = searcher.suggest("a")
    searcher.on_trial_complete("a", {"score": 1.0})
    assert 0 <= config["x"] <= 2


def test_save_restore_continues_the_same_sequence(tmp_path):
    original = AxSearch(SPACE, metric="loss", mode="min", **FAST)
    _run(original, 3)
    original.save(str(tmp_path / "ax.pkl"))
    restored = AxSearch(metric="loss", mode="min", **FAST)
    restored.restore(str(tmp_path / "ax.pkl"))
    assert restored.suggest("next") == original.suggest("next")


def test_bad_arguments():
    with pytest.raises(ValueError, match="mode must be one of 'min', 'max'"):
        AxSearch(metric="loss", mode="maximize")
    with pytest.raises(TypeError, match=r"unexpected keyword arguments \['nope'\]"):
        AxSearch(nope=1)
    with pytest.raises(TypeError, match="must be an ax.Client"):
        AxSearch(ax_client=object())
    with pytest.raises(TypeError, match="points_to_evaluate=...\\) must be a list of dicts"):
        AxSearch(points_to_evaluate={"x": 1})
    with pytest.raises(RuntimeError, match="no search space"):
        AxSearch(metric="loss", mode="min").suggest("a")


def test_configured_client_refuses_a_second_space():
    client = ax.Client()
    client.configure_experiment(parameters=[ax.RangeParameterConfig(name="x", bounds=(0.0, 1.0), parameter_type="float")])
    with pytest.raises(ValueError, match="already has an experiment"):
        AxSearch({"x": uniform(0, 1)}, ax_client=client)


def test_package_import_does_not_import_ax_and_missing_ax_names_the_extra():
    code = (
        "import sys; import tunesmith.search.ax as m; assert 'ax' not in sys.modules; "
        "sys.modules['ax'] = None\n"
        "try:\n    m.AxSearch()\nexcept ImportError as e:\n    print(e)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert 'pip install "tunesmith[ax]"' in out.stdout
