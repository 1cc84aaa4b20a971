import functools
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("torch", reason='HEBO needs torch: pip install "tunesmith[hebo]"')
pytest.importorskip("hebo", reason='needs HEBO: pip install "tunesmith[hebo]"')

from hebo.design_space.design_space import DesignSpace  # noqa: E402

from tunesmith.search.hebo import HEBOSearch  # noqa: E402
from tunesmith.search.sample import choice, grid_search, loguniform, qrandint, randint, randn, uniform  # noqa: E402
from tunesmith.testing import assert_in_space, check_searcher  # noqa: E402

from _searcher_runs import run_searcher  # noqa: E402

SPACE = {"x": uniform(-5.0, 5.0), "lr": loguniform(1e-4, 1e-1), "units": randint(1, 10), "act": choice(["relu", None, 3]),
         "nested": {"p": uniform(0, 1)}, "const": 7}
# rand_sample above the trials a test runs keeps HEBO in its quasi-random phase (milliseconds);
# one test below runs a model-based batch (seconds).
RANDOM_PHASE = {"random_state_seed": 0, "rand_sample": 50}


def _loss(config):
    return (config["x"] - 1.0) ** 2


_run = functools.partial(run_searcher, loss=_loss)


def test_contract(tmp_path):
    # HEBO drops quantization (warned about below), so quantized values are not checked.
    check_searcher(lambda **kw: HEBOSearch(**RANDOM_PHASE, **kw), tmp_path, same_suggestions=True, check_quantization=False)


def test_suggestions_have_the_right_types_and_keep_constants():
    searcher = HEBOSearch(SPACE, metric="loss", mode="min", **RANDOM_PHASE)
    for config in _run(searcher, 6):
        assert_in_space(config, SPACE)
        assert type(config["units"]) is int and type(config["x"]) is float
        assert config["const"] == 7


@pytest.mark.slow
def test_model_based_step_leaves_global_generators_alone():
    # One model-based suggestion (HEBO's evolutionary acquisition search takes seconds).
    # Only the quasi-random phase repeats exactly: pymoo >= 0.6.1 seeds its own generator
    # from fresh entropy when HEBO gives it no seed.
    torch = pytest.importorskip("torch")
    np.random.seed(123)
    torch.manual_seed(123)
    outer_numpy, outer_torch = np.random.get_state()[1].copy(), torch.get_rng_state().clone()
    space = {"x": uniform(-5, 5), "c": choice(["a", "b"])}
    searcher = HEBOSearch(space, metric="loss", mode="max", random_state_seed=1, rand_sample=3, max_concurrent=1, model_name="rf")
    for i in range(4):
        config = searcher.suggest(str(i))
        assert_in_space(config, space)
        searcher.on_trial_complete(str(i), {"loss": -_loss(config)})
    assert len(searcher._optimizer.y) == 4
    assert (np.random.get_state()[1] == outer_numpy).all()
    assert torch.equal(torch.get_rng_state(), outer_torch)


def test_quasi_random_phase_is_seeded():
    runs = [_run(HEBOSearch(SPACE, metric="loss", mode="min", **RANDOM_PHASE), 4) for _ in range(2)]
    assert runs[0] == runs[1]


def test_batches_limit_concurrency():
    searcher = HEBOSearch({"x": uniform(0, 1)}, metric="loss", mode="min", max_concurrent=2, **RANDOM_PHASE)
    assert searcher.set_max_concurrency(2) is True
    assert isinstance(searcher.suggest("a"), dict) and isinstance(searcher.suggest("b"), dict)
    assert searcher.suggest("c") is None
    searcher.on_trial_complete("a", {"loss": 1.0})
    assert searcher.suggest("c") is None  # the batch is not finished yet
    searcher.on_trial_complete("b", {"loss": 1.0})
    assert isinstance(searcher.suggest("c"), dict)


def test_points_to_evaluate_come_first_and_rewards_are_observed():
    point = {"x": 1.5, "lr": 0.01, "units": 3, "act": None, "nested": {"p": 0.25}}
    searcher = HEBOSearch(SPACE, metric="loss", mode="min", points_to_evaluate=[point], **RANDOM_PHASE)
    assert searcher.suggest("a") == {**point, "const": 7}
    warm = HEBOSearch(SPACE, metric="loss", mode="min", points_to_evaluate=[point], evaluated_rewards=[0.5], **RANDOM_PHASE)
    assert warm.suggest("a") != {**point, "const": 7}
    assert len(warm._optimizer.y) == 1


def test_native_design_space():
    space = DesignSpace().parse([{"name": "x", "type": "num", "lb": 0, "ub": 1}, {"name": "c", "type": "cat", "categories": ["u", "v"]}])
    searcher = HEBOSearch(space, metric="loss", mode="min", points_to_evaluate=[{"x": 0.5, "c": "v"}], **RANDOM_PHASE)
    assert searcher.suggest("a") == {"x": 0.5, "c": "v"}
    config = searcher.suggest("b")
    assert 0 <= config["x"] <= 1 and config["c"] in ("u", "v")


def test_save_restore_continues_the_same_sequence(tmp_path):
    original = HEBOSearch(SPACE, metric="loss", mode="min", **RANDOM_PHASE)
    _run(original, 3)
    original.save(str(tmp_path / "state.pkl"))
    restored = HEBOSearch(metric="loss", mode="min")
    restored.restore(str(tmp_path / "state.pkl"))
    assert _run(restored, 3, "n") == _run(original, 3, "n")


def test_quantization_is_dropped_with_a_warning():
    with pytest.warns(UserWarning, match="ignores the quantization q=5 of parameter 'step'"):
        searcher = HEBOSearch({"step": qrandint(0, 20, 5)}, metric="loss", mode="min", **RANDOM_PHASE)
    assert 0 <= searcher.suggest("a")["step"] <= 20


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"mode": "maximize"}, "mode must be one of 'min', 'max'"),
        ({"space": {"z": randn(0, 1)}}, r"parameter 'z'.*Normal"),
        ({"space": {"g": grid_search([1, 2])}}, "grid_search"),
        ({"max_concurrent": 0}, "max_concurrent must be an int >= 1"),
        ({"points_to_evaluate": [{"x": 1}], "evaluated_rewards": [1, 2]}, "one value per points_to_evaluate entry"),
        ({"random_state_seed": "seed"}, "random_state_seed must be an int or None"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        HEBOSearch(**kwargs)


def test_package_import_does_not_import_hebo_and_missing_library_names_the_extra():
    code = (
        "import sys; import tunesmith.search.hebo as m; assert 'hebo' not in sys.modules and 'torch' not in sys.modules; "
        "sys.modules['hebo'] = None\n"
        "try:\n    m.HEBOSearch()\nexcept ImportError as e:\n    print(e)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert 'pip install "tunesmith[hebo]"' in out.stdout
