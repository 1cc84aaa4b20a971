import importlib.util
import functools
import subprocess
import sys

import pytest

if importlib.util.find_spec("nevergrad") is None:
    pytest.skip('needs nevergrad: pip install "tunesmith[nevergrad]"', allow_module_level=True)

from tunesmith.search.nevergrad import NevergradSearch  # noqa: E402
from tunesmith.search.nevergrad._nevergrad_search import _import_nevergrad  # noqa: E402
from tunesmith.search.sample import choice, grid_search, lograndint, loguniform, qrandint, randint, randn, uniform  # noqa: E402
from tunesmith.testing import assert_in_space, check_searcher  # noqa: E402

from _searcher_runs import run_searcher  # noqa: E402

# A plain "import nevergrad" fails next to bayesian-optimization >= 2 (nevergrad 1.0 expects
# bayes_opt 1.x); the searcher's own import works around that, so the tests use it too.
ng = _import_nevergrad()

SPACE = {"x": uniform(-5.0, 5.0), "lr": loguniform(1e-4, 1e-1), "units": randint(1, 10), "big": lograndint(1, 1000),
         "act": choice(["relu", None, 3]), "nested": {"p": uniform(0, 1)}, "const": 7}


_run = functools.partial(run_searcher, loss=lambda config: (config["x"] - 1.0) ** 2)


@pytest.mark.parametrize(
    "optimizer, kwargs",
    [(ng.optimizers.OnePlusOne, None), (ng.optimizers.NGOpt, {"budget": 50}), (ng.optimizers.CMA, {"budget": 50})],
    ids=["configured", "class", "cma"],
)
def test_contract(optimizer, kwargs, tmp_path):
    # Nevergrad drops quantization (warned about below), so quantized values are not checked.
    factory = lambda **kw: NevergradSearch(optimizer, kwargs, **kw)  # noqa: E731
    check_searcher(factory, tmp_path, same_suggestions=True, check_quantization=False)


def test_suggestions_have_the_right_types_and_keep_constants():
    searcher = NevergradSearch(ng.optimizers.OnePlusOne, space=SPACE, metric="loss", mode="min")
    for config in _run(searcher, 8):
        assert_in_space(config, SPACE)
        assert type(config["units"]) is int and type(config["big"]) is int
        assert config["const"] == 7


def test_minimizes_and_maximizes():
    for mode, sign in (("min", 1), ("max", -1)):
        searcher = NevergradSearch(ng.optimizers.OnePlusOne, {"budget": 60}, space={"x": uniform(-5, 5)}, metric="m", mode=mode, seed=0)
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
        ({"optimizer": 3}, TypeError, "must be a Nevergrad optimizer class"),
        ({"optimizer": "oneplusone"}, ValueError, "no Nevergrad optimizer is registered under that name; did you mean 'OnePlusOne'"),
        ({"optimizer": "NoSuchOptimizer"}, ValueError, r"registered under that name \(see nevergrad.optimizers.registry\)"),
        ({"optimizer": ng.optimizers.OnePlusOne, "mode": "maximize"}, ValueError, "mode must be one of 'min', 'max'"),
        ({"optimizer": ng.optimizers.OnePlusOne, "seed": 1.5}, ValueError, "seed must be an int or None; got 1.5"),
        ({"optimizer": ng.optimizers.OnePlusOne, "space": {"z": randn(0, 1)}}, ValueError, r"parameter 'z'.*Normal"),
        ({"optimizer": ng.optimizers.OnePlusOne, "space": {"g": grid_search([1, 2])}}, ValueError, "grid_search"),
        ({"optimizer": ng.optimizers.OnePlusOne, "space": [1]}, TypeError, "must be a tunesmith param space or a nevergrad parametrization"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        NevergradSearch(**kwargs)


def test_optimizer_by_its_registered_name():
    # Beyond Ray Tune: no "import nevergrad" needed in the calling code.
    searcher = NevergradSearch("CMA", {"budget": 10}, space={"x": uniform(0, 1), "y": uniform(0, 1)}, metric="loss", mode="min")
    for config in _run(searcher, 4):
        assert 0 <= config["x"] <= 1 and 0 <= config["y"] <= 1


@pytest.mark.parametrize("optimizer", ["OnePlusOne", "CMA", "TwoPointsDE"])
def test_seed_repeats_the_search(optimizer):
    def configs(seed):
        searcher = NevergradSearch(optimizer, space={"x": uniform(-5, 5), "c": choice(["a", "b"])}, metric="loss", mode="min", seed=seed)
        return _run(searcher, 12)

    assert configs(1) == configs(1)
    assert configs(1) != configs(2)


def test_optimizer_instance_refuses_a_space_and_optimizer_kwargs():
    optimizer = ng.optimizers.OnePlusOne(parametrization=ng.p.Dict(x=ng.p.Scalar()), budget=5)
    with pytest.raises(ValueError, match="brings its own parametrization"):
        NevergradSearch(optimizer, space={"x": uniform(0, 1)})
    with pytest.raises(ValueError, match="optimizer_kwargs apply only"):
        NevergradSearch(optimizer, {"budget": 3})
    with pytest.raises(ValueError, match="seed applies only to an optimizer class"):
        NevergradSearch(optimizer, seed=1)


def test_package_import_does_not_import_nevergrad_and_missing_library_names_the_extra():
    code = (
        "import sys; import tunesmith.search.nevergrad as m; assert 'nevergrad' not in sys.modules; "
        "sys.modules['nevergrad'] = None\n"
        "try:\n    m.NevergradSearch()\nexcept ImportError as e:\n    print(e)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert 'pip install "tunesmith[nevergrad]"' in out.stdout


def test_optimizers_that_wrap_scipy_are_saved_and_say_why_they_cannot_be_restored(tmp_path):
    # NGOpt picks a scipy-based optimizer here (COBYLA inside a MetaModel), which nevergrad runs
    # in a thread; unpicklable unless asked first, and its replay on load fails in nevergrad 1.0.
    import gc
    import threading
    import warnings

    space = {f"x{i}": uniform(0, 1) for i in range(6)}
    searcher = NevergradSearch("NGOpt", {"budget": 100}, space=space, metric="loss", mode="min", seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # scipy's COBYLA warns about its own defaults
        for i in range(12):
            config = searcher.suggest(str(i))
            searcher.on_trial_complete(str(i), {"loss": sum((v - 0.3) ** 2 for v in config.values())})
    searcher.save(str(tmp_path / "state.pkl"))  # raised ValueError before enable_pickling
    restored = NevergradSearch("NGOpt", {"budget": 100}, space=space, metric="loss", mode="min", seed=0)
    with pytest.raises(RuntimeError, match="cannot restore its optimizer .*could not replay its history.*OnePlusOne"):
        restored.restore(str(tmp_path / "state.pkl"))
    del searcher, restored
    gc.collect()  # nevergrad stops the optimizer's thread when the optimizer is collected
    for thread in [t for t in threading.enumerate() if type(t).__name__ == "_MessagingThread"]:
        thread.join(timeout=10)  # told to stop; it ends on its own schedule, later under load
    assert not [t for t in threading.enumerate() if type(t).__name__ == "_MessagingThread" and t.is_alive()]


def test_convert_search_space_gives_an_ng_dict():
    converted = NevergradSearch.convert_search_space(
        {"m": {"x": uniform(-1, 1), "lr": loguniform(1e-4, 1e-1)}, "n": randint(1, 4), "act": choice(["a", "b"]), "k": 7}
    )
    assert isinstance(converted, ng.p.Dict)
    assert sorted(converted.value) == ["act", "m/lr", "m/x", "n"]
    assert isinstance(converted["m/lr"], ng.p.Log) and isinstance(converted["act"], ng.p.Choice)
    for _ in range(20):
        value = converted.sample().value
        assert -1 <= value["m/x"] <= 1 and 1e-4 <= value["m/lr"] <= 1e-1 and value["n"] in (1, 2, 3)
    searcher = NevergradSearch(ng.optimizers.OnePlusOne, space=converted, metric="loss", mode="min")
    config = searcher.suggest("a")
    assert set(config) == {"m", "n", "act"} and set(config["m"]) == {"x", "lr"}


@pytest.mark.parametrize(
    "spec, match",
    [({"g": grid_search([1, 2])}, "grid_search"), ({"r": randn(0, 1)}, r"parameter 'r'.*Normal")],
)
def test_convert_search_space_refuses(spec, match):
    with pytest.raises(ValueError, match=match):
        NevergradSearch.convert_search_space(spec)
