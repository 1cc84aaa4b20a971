import importlib.util
import subprocess
import sys

import pytest

if importlib.util.find_spec("nevergrad") is None:
    pytest.skip('needs nevergrad: pip install "tunesmith[nevergrad]"', allow_module_level=True)

from tunesmith.search.nevergrad import NevergradSearch  # noqa: E402
from tunesmith.search.nevergrad._nevergrad_search import _import_nevergrad  # noqa: E402
from tunesmith.search.sample import choice, grid_search, lograndint, loguniform, qrandint, randint, randn, uniform  # noqa: E402
from tunesmith.testing import assert_in_space, check_searcher, contract_space  # noqa: E402

# A plain "import nevergrad" fails next to bayesian-optimization >= 2 (nevergrad 1.0 expects
# bayes_opt 1.x); the searcher's own import works around that, so the tests use it too.
ng = _import_nevergrad()

SPACE = {"x": uniform(-5.0, 5.0), "lr": loguniform(1e-4, 1e-1), "units": randint(1, 10), "big": lograndint(1, 1000),
         "act": choice(["relu", None, 3]), "nested": {"p": uniform(0, 1)}, "const": 7}


def _no_quantization_space():
    space = contract_space()
    del space["step"]
    space["nested"]["dropout"] = uniform(0.0, 0.5)
    return space


def _run(searcher, n, prefix="t"):
    configs = []
    for i in range(n):
        config = searcher.suggest(f"{prefix}{i}")
        searcher.on_trial_complete(f"{prefix}{i}", {"loss": (config["x"] - 1.0) ** 2})
        configs.append(config)
    return configs


@pytest.mark.parametrize(
    "optimizer, kwargs",
    [(ng.optimizers.OnePlusOne, None), (ng.optimizers.NGOpt, {"budget": 50}), (ng.optimizers.CMA, {"budget": 50})],
    ids=["configured", "class", "cma"],
)
def test_contract(optimizer, kwargs, tmp_path):
    check_searcher(lambda **kw: NevergradSearch(optimizer, kwargs, **kw), tmp_path, _no_quantization_space())


def test_suggestions_have_the_right_types_and_keep_constants():
    searcher = NevergradSearch(ng.optimizers.OnePlusOne, space=SPACE, metric="loss", mode="min")
    for config in _run(searcher, 8):
        assert_in_space(config, SPACE)
        assert type(config["units"]) is int and type(config["big"]) is int
        assert config["const"] == 7


def test_minimizes_and_maximizes():
    for mode, sign in (("min", 1), ("max", -1)):
        searcher = NevergradSearch(ng.optimizers.OnePlusOne, {"budget": 60}, space={"x": uniform(-5, 5)}, metric="m", mode=mode)
        xs = []
        for i in range(60):
            config = searcher.suggest(str(i))
            searcher.on_trial_complete(str(i), {"m": sign * (config["x"] - 2.0) ** 2})
            xs.append(config["x"])
        assert min(abs(x - 2.0) for x in xs[-10:]) < 0.5


def test_points_to_evaluate_come_first():
    point = {"x": 1.5, "lr": 0.01, "units": 3, "big": 10, "act": None, "nested": {"p": 0.25}}
    searcher = NevergradSearch(ng.optimizers.OnePlusOne, space=SPACE, metric="loss", mode="min", points_to_evaluate=[point])
    first = searcher.suggest("a")
    assert first["lr"] == pytest.approx(0.01)
    assert {**first, "lr": 0.01} == {**point, "const": 7}


def test_optimizer_instance_with_parameter_names():
    optimizer = ng.optimizers.OnePlusOne(parametrization=ng.p.Array(shape=(2,)).set_bounds(0, 1), budget=10)
    searcher = NevergradSearch(optimizer, space=["a", "b"], metric="loss", mode="min", points_to_evaluate=[{"a": 0.5, "b": 0.25}])
    assert searcher.suggest("t0") == {"a": 0.5, "b": 0.25}
    searcher.on_trial_complete("t0", {"loss": 1.0})
    config = searcher.suggest("t1")
    assert set(config) == {"a", "b"} and 0 <= config["a"] <= 1


def test_native_instrumentation_space():
    space = ng.p.Instrumentation(x=ng.p.Scalar(lower=0, upper=1), c=ng.p.Choice(["a", "b"]))
    searcher = NevergradSearch(ng.optimizers.OnePlusOne, space=space, metric="loss", mode="min", points_to_evaluate=[{"x": 0.5, "c": "b"}])
    assert searcher.suggest("a") == {"x": 0.5, "c": "b"}


def test_save_restore_continues_the_same_sequence(tmp_path):
    parametrization_seeded = ng.p.Dict(x=ng.p.Scalar(lower=-5, upper=5))
    parametrization_seeded.random_state.seed(0)
    original = NevergradSearch(ng.optimizers.OnePlusOne, space=parametrization_seeded, metric="loss", mode="min")
    _run(original, 4)
    original.save(str(tmp_path / "state.pkl"))
    restored = NevergradSearch(ng.optimizers.OnePlusOne, metric="loss", mode="min")
    restored.restore(str(tmp_path / "state.pkl"))
    assert _run(restored, 3, "n") == _run(original, 3, "n")


def test_quantization_is_dropped_with_a_warning():
    with pytest.warns(UserWarning, match="ignores the quantization q=5 of parameter 'step'"):
        searcher = NevergradSearch(ng.optimizers.OnePlusOne, space={"step": qrandint(0, 20, 5)}, metric="loss", mode="min")
    assert 0 <= searcher.suggest("a")["step"] <= 20


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({}, ValueError, "NevergradSearch needs an optimizer"),
        ({"optimizer": "OnePlusOne"}, TypeError, "must be a Nevergrad optimizer class"),
        ({"optimizer": ng.optimizers.OnePlusOne, "mode": "maximize"}, ValueError, "mode must be one of 'min', 'max'"),
        ({"optimizer": ng.optimizers.OnePlusOne, "space": {"z": randn(0, 1)}}, ValueError, r"parameter 'z'.*Normal"),
        ({"optimizer": ng.optimizers.OnePlusOne, "space": {"g": grid_search([1, 2])}}, ValueError, "grid_search"),
        ({"optimizer": ng.optimizers.OnePlusOne, "space": [1]}, TypeError, "must be a tunesmith param space or a nevergrad parametrization"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        NevergradSearch(**kwargs)


def test_optimizer_instance_refuses_a_space_and_optimizer_kwargs():
    optimizer = ng.optimizers.OnePlusOne(parametrization=ng.p.Dict(x=ng.p.Scalar()), budget=5)
    with pytest.raises(ValueError, match="brings its own parametrization"):
        NevergradSearch(optimizer, space={"x": uniform(0, 1)})
    with pytest.raises(ValueError, match="optimizer_kwargs apply only"):
        NevergradSearch(optimizer, {"budget": 3})


def test_package_import_does_not_import_nevergrad_and_missing_library_names_the_extra():
    code = (
        "import sys; import tunesmith.search.nevergrad as m; assert 'nevergrad' not in sys.modules; "
        "sys.modules['nevergrad'] = None\n"
        "try:\n    m.NevergradSearch()\nexcept ImportError as e:\n    print(e)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert 'pip install "tunesmith[nevergrad]"' in out.stdout
