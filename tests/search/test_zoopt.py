import functools
import subprocess
import sys

import numpy as np
import pytest

zoopt = pytest.importorskip("zoopt", reason='needs zoopt: pip install "tunesmith[zoopt]"')

from tunesmith.search import Searcher  # noqa: E402
from tunesmith.search.sample import choice, grid_search, loguniform, qrandint, quniform, randint, uniform  # noqa: E402
from tunesmith.search.zoopt import ZOOptSearch  # noqa: E402
from tunesmith.testing import assert_in_space, check_searcher  # noqa: E402

from _searcher_runs import run_searcher  # noqa: E402

SPACE = {"x": uniform(-5.0, 5.0), "units": randint(1, 10), "step": qrandint(0, 20, 5), "act": choice(["relu", None, 3]),
         "nested": {"dropout": quniform(0.0, 0.5, 0.1)}, "const": 7}


def _loss(config):
    return (config["x"] - 1.0) ** 2 + abs(config["units"] - 4)


_run = functools.partial(run_searcher, loss=_loss)


def test_contract(tmp_path):
    # Quantized floats use q as ZOOpt's precision, so 0.1 steps come out as multiples of 0.1.
    check_searcher(lambda **kw: ZOOptSearch(budget=20, seed=0, **kw), tmp_path, SPACE, same_suggestions=True)


def test_suggestions_have_the_right_types_and_the_search_improves():
    searcher = ZOOptSearch(budget=40, dim_dict=SPACE, metric="loss", mode="min", seed=1)
    configs = [c for c in _run(searcher, 40) if isinstance(c, dict)]
    for config in configs:
        assert_in_space(config, SPACE)
        assert type(config["units"]) is int and config["step"] % 5 == 0 and config["const"] == 7
    assert min(_loss(c) for c in configs[-10:]) < min(_loss(c) for c in configs[:4])


def test_mode_max_and_points_to_evaluate_first():
    # ZOOpt itself stops handing out init samples once a result is in; every point still runs first.
    points = [{"x": 2.0, "units": 3, "step": 10, "act": None, "nested": {"dropout": 0.2}},
              {"x": -1.0, "units": 9, "step": 0, "act": "relu", "nested": {"dropout": 0.5}}]
    searcher = ZOOptSearch(budget=30, dim_dict=SPACE, metric="score", mode="max", points_to_evaluate=points, seed=2)
    configs = _run(searcher, 20, loss=lambda c: -_loss(c))
    assert configs[:2] == [{**point, "const": 7} for point in points]


def test_parallel_trials_and_failed_trials_keep_the_search_going():
    searcher = ZOOptSearch(budget=20, dim_dict={"x": uniform(0, 1)}, metric="loss", mode="min", parallel_num=2, seed=0)
    for round_ in range(6):
        a, b = searcher.suggest(f"a{round_}"), searcher.suggest(f"b{round_}")
        assert isinstance(a, dict)
        searcher.on_trial_complete(f"a{round_}", None, error=True)
        if isinstance(b, dict):
            searcher.on_trial_complete(f"b{round_}", {"loss": b["x"]})


def test_seeded_runs_repeat_and_leave_numpy_alone():
    np.random.seed(5)
    outer = np.random.get_state()[1].copy()
    runs = [_run(ZOOptSearch(budget=20, dim_dict=SPACE, metric="loss", mode="min", seed=3), 12) for _ in range(2)]
    assert runs[0] == runs[1]
    assert (np.random.get_state()[1] == outer).all()


def test_unseeded_searcher_draws_from_numpys_global_generator():
    # As Ray Tune's: np.random.seed makes it repeat, and its draws advance the generator (it
    # does not rewind it after each call, which made every suggestion replay the same draws).
    runs, states = [], []
    for _ in range(2):
        np.random.seed(7)
        before = np.random.get_state()[1].copy()
        runs.append(_run(ZOOptSearch(budget=20, dim_dict=SPACE, metric="loss", mode="min"), 12))
        states.append(np.random.get_state()[1].copy())
        assert not (states[-1] == before).all()
    assert runs[0] == runs[1]
    assert (states[0] == states[1]).all()


def test_two_searchers_keep_their_own_precisions():
    # ZOOpt keeps the rounding of continuous dimensions in a module global.
    coarse = ZOOptSearch(budget=20, dim_dict={"a": quniform(0, 1, 0.1)}, metric="loss", mode="min", seed=0)
    fine = ZOOptSearch(budget=20, dim_dict={"a": uniform(0, 1), "b": uniform(0, 1)}, metric="loss", mode="min", seed=0)
    fine.suggest("f0")
    configs = [c for c in _run(coarse, 5, loss=lambda c: c["a"]) if isinstance(c, dict)]
    assert configs and all(round(c["a"], 1) == c["a"] for c in configs)


def test_native_dim_dict():
    dims = {"x": (zoopt.ValueType.CONTINUOUS, [0, 1], 1e-2), "n": (zoopt.ValueType.DISCRETE, [1, 3], True),
            "c": (zoopt.ValueType.GRID, ["a", "b"])}
    config = ZOOptSearch(budget=10, dim_dict=dims, metric="loss", mode="min").suggest("a")
    assert 0 <= config["x"] <= 1 and config["n"] in (1, 2, 3) and config["c"] in ("a", "b")


def test_save_restore_continues_the_same_sequence(tmp_path):
    original = ZOOptSearch(budget=30, dim_dict=SPACE, metric="loss", mode="min", seed=4)
    _run(original, 6)
    original.save(str(tmp_path / "state.pkl"))
    restored = ZOOptSearch(budget=30, metric="loss", mode="min")
    restored.restore(str(tmp_path / "state.pkl"))
    assert _run(restored, 5, "n") == _run(original, 5, "n")


def test_exhausted_space_finishes():
    searcher = ZOOptSearch(budget=10, dim_dict={"c": choice(["a", "b"])}, metric="loss", mode="min", seed=0)
    results = _run(searcher, 12, loss=lambda c: 1.0)
    assert Searcher.FINISHED in results


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({}, "ZOOptSearch needs a budget"),
        ({"budget": 0}, "budget must be an int >= 1"),
        ({"budget": 10, "algo": "racos"}, "algo must be 'asracos' or 'sracos'; got 'racos'"),
        ({"budget": 10, "mode": "maximize"}, "mode must be one of 'min', 'max'"),
        ({"budget": 10, "parallel_num": 0}, "parallel_num must be an int >= 1"),
        ({"budget": 10, "dim_dict": {"lr": loguniform(1e-3, 1)}}, r"parameter 'lr'.*LogUniform"),
        ({"budget": 10, "dim_dict": {"g": grid_search([1, 2])}}, "grid_search"),
        ({"budget": 10, "dim_dict": {"x": 3}}, r"dim_dict\['x'\] must be a \(ValueType, range"),
        ({"budget": 10, "space": {"x": uniform(0, 1)}, "dim_dict": {"x": uniform(0, 1)}}, "pass only one of them"),
        ({"budget": 10, "spaces": {"x": uniform(0, 1)}}, r"zoopt.Parameter, which takes .*got unknown \['spaces'\]"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ZOOptSearch(**kwargs)


def test_algo_is_case_insensitive():
    assert isinstance(ZOOptSearch(algo="SRacos", budget=5, dim_dict={"x": randint(0, 3)}, metric="m", mode="min").suggest("a"), dict)


def test_package_import_does_not_import_zoopt_and_missing_library_names_the_extra():
    code = (
        "import sys; import tunesmith.search.zoopt as m; assert 'zoopt' not in sys.modules; "
        "sys.modules['zoopt'] = None\n"
        "try:\n    m.ZOOptSearch(budget=1)\nexcept ImportError as e:\n    print(e)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert 'pip install "tunesmith[zoopt]"' in out.stdout


def test_space_is_another_name_for_dim_dict():
    searcher = ZOOptSearch(budget=10, space={"x": uniform(0, 1), "n": {"k": randint(1, 4)}}, metric="loss", mode="min", seed=0)
    configs = _run(searcher, 4, loss=lambda c: c["x"])
    assert all(0 <= c["x"] <= 1 and 1 <= c["n"]["k"] <= 3 for c in configs)
    native = ZOOptSearch(budget=10, space={"x": (zoopt.ValueType.CONTINUOUS, [0, 1], 1e-6)}, metric="loss", mode="min")
    assert 0 <= native.suggest("a")["x"] <= 1


def test_convert_search_space_gives_a_dim_dict():
    value_type = zoopt.ValueType
    spec = {"m": {"x": uniform(0, 2), "d": quniform(0, 0.5, 0.1)}, "n": randint(1, 5), "c": choice(["a", "b"]), "k": 7}
    converted = ZOOptSearch.convert_search_space(spec)
    assert converted == {
        "m/x": (value_type.CONTINUOUS, [0, 2], 1e-8),
        "m/d": (value_type.CONTINUOUS, [0, 0.5], 0.1),
        "n": (value_type.DISCRETE, [1, 4], True),
        "c": (value_type.GRID, ["a", "b"]),
    }
    assert ZOOptSearch.convert_search_space(spec, join=True) == {**converted, "k": 7}
    searcher = ZOOptSearch(budget=10, dim_dict=converted, metric="loss", mode="min", seed=0)
    config = searcher.suggest("a")
    assert 0 <= config["m"]["x"] <= 2 and 1 <= config["n"] <= 4 and config["c"] in ("a", "b")


def test_convert_search_space_drops_an_integer_step_with_a_warning():
    with pytest.warns(UserWarning, match="ignores the quantization q=5 of parameter 'step'"):
        assert ZOOptSearch.convert_search_space({"step": qrandint(0, 20, 5)}) == {"step": (zoopt.ValueType.DISCRETE, [0, 20], True)}


@pytest.mark.parametrize(
    "spec, match",
    [({"g": grid_search([1, 2])}, "grid_search"), ({"lr": loguniform(1e-3, 1)}, r"parameter 'lr'.*LogUniform")],
)
def test_convert_search_space_refuses(spec, match):
    with pytest.raises(ValueError, match=match):
        ZOOptSearch.convert_search_space(spec)
