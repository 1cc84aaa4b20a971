import subprocess
import sys

import numpy as np
import pytest

CS = pytest.importorskip("ConfigSpace", reason='needs ConfigSpace: pip install "tunesmith[bohb]"')

from tunesmith.search.bohb import TuneBOHB  # noqa: E402
from tunesmith.search.bohb._kde import fit_kde, fit_model, log_density, propose, split_good_bad  # noqa: E402
from tunesmith.search.sample import choice, grid_search, loguniform, qrandint, randint, randn, sample_from, uniform  # noqa: E402
from tunesmith.testing import assert_in_space, check_searcher  # noqa: E402

SPACE = {"x": uniform(-5.0, 5.0), "lr": loguniform(1e-4, 1e-1), "units": randint(1, 10), "z": randn(0, 1),
         "act": choice(["relu", None, 3, [1, 2]]), "nested": {"p": uniform(0, 1)}, "const": 7}


def _loss(config):
    return (config["x"] - 1.0) ** 2


def _run(searcher, n, prefix="t", iterations=3, loss=_loss):
    configs = []
    for i in range(n):
        trial_id = f"{prefix}{i}"
        config = searcher.suggest(trial_id)
        for iteration in range(1, iterations + 1):
            result = {"loss": loss(config) + 1.0 / iteration, "training_iteration": iteration}
            searcher.on_trial_result(trial_id, result)
        searcher.on_trial_complete(trial_id, result)
        configs.append(config)
    return configs


# -- the model's arithmetic ------------------------------------------------------------------


@pytest.mark.parametrize(
    "losses, top, min_points, good, bad",
    [
        ([3.0, 1.0, 2.0, 4.0], 50, 1, [1, 2], [0, 3]),
        ([5.0, 4.0, 3.0, 2.0, 1.0], 15, 2, [3, 4], [0, 1, 2]),
        ([1.0, 2.0, 3.0], 15, 3, [0, 1, 2], [0, 1, 2]),
    ],
)
def test_split_good_bad(losses, top, min_points, good, bad):
    got_good, got_bad = split_good_bad(np.array(losses), top, min_points)
    assert got_good.tolist() == good and got_bad.tolist() == bad


def test_bandwidths_have_a_floor_and_categorical_weights_a_ceiling():
    kde = fit_kde(np.array([[0.5, 1.0], [0.5, 1.0], [0.5, 0.0]]), sizes=[0, 2], min_bandwidth=1e-3)
    assert kde.bandwidths[0] == pytest.approx(1e-3)
    assert 0 < kde.bandwidths[1] <= 0.5


def test_density_prefers_points_near_the_data():
    kde = fit_kde(np.array([[0.1], [0.2], [0.15]]), sizes=[0], min_bandwidth=1e-3)
    near, far = log_density(kde, np.array([[0.15], [0.9]]))
    assert near > far


def test_propose_lands_in_the_good_region_and_inside_the_unit_cube():
    rng = np.random.default_rng(0)
    vectors = np.array([[0.1, 0], [0.2, 0], [0.15, 0], [0.8, 1], [0.9, 1], [0.85, 1]], dtype=float)
    model = fit_model(vectors, np.array([1.0, 1.1, 0.9, 5.0, 5.2, 4.8]), sizes=[0, 2], top_n_percent=50, min_points=2)
    best = propose(model, rng, num_samples=64, bandwidth_factor=3.0)
    assert 0 <= best[0] < 0.5 and best[1] == 0


# -- the searcher ----------------------------------------------------------------------------


def test_contract(tmp_path):
    # TuneBOHB drops quantization (warned about below), so quantized values are not checked.
    check_searcher(lambda **kw: TuneBOHB(seed=0, **kw), tmp_path, same_suggestions=True, check_quantization=False)


def test_suggestions_have_the_right_types_and_keep_constants():
    searcher = TuneBOHB(SPACE, metric="loss", mode="min", seed=0)
    for config in _run(searcher, 12):
        assert_in_space(config, SPACE)
        assert type(config["units"]) is int and type(config["x"]) is float and config["const"] == 7


def test_model_concentrates_on_good_configs_and_uses_the_largest_budget():
    space = {"x": uniform(-5, 5), "c": choice(["a", "b", "c"])}
    searcher = TuneBOHB(space, metric="loss", mode="min", seed=1, bohb_config={"min_points_in_model": 3, "random_fraction": 0.0})
    configs = _run(searcher, 40, loss=lambda c: (c["x"] - 1) ** 2 + (c["c"] != "b"))
    late = configs[-15:]
    assert np.median([abs(c["x"] - 1) for c in late]) < 1.0
    assert sum(c["c"] == "b" for c in late) >= 10
    assert max(searcher._observations) == 3.0


def test_mode_max_and_hyperband_budget():
    searcher = TuneBOHB({"x": uniform(-5, 5)}, metric="score", mode="max", seed=2, bohb_config={"min_points_in_model": 3, "random_fraction": 0.0})
    for i in range(30):
        config = searcher.suggest(str(i))
        searcher.on_trial_result(str(i), {"score": -((config["x"] + 2) ** 2), "hyperband_info": {"budget": 9}, "training_iteration": 1})
    assert list(searcher._observations) == [9.0]
    assert abs(config["x"] + 2) < 1.5


def test_points_to_evaluate_come_first():
    point = {"x": 1.5, "lr": 0.01, "units": 3, "z": 0.0, "act": [1, 2], "nested": {"p": 0.25}}
    searcher = TuneBOHB(SPACE, metric="loss", mode="min", points_to_evaluate=[point], seed=0)
    assert searcher.suggest("a") == {**point, "const": 7}
    bad = TuneBOHB(SPACE, metric="loss", mode="min", points_to_evaluate=[{**point, "act": "elu"}])
    with pytest.raises(ValueError, match="'elu' for 'act' is none of"):
        bad.suggest("a")


def test_pause_unpause_and_max_concurrent():
    searcher = TuneBOHB({"x": uniform(0, 1)}, metric="loss", mode="min", max_concurrent=2, seed=0)
    assert isinstance(searcher.suggest("a"), dict) and isinstance(searcher.suggest("b"), dict)
    assert searcher.suggest("c") is None
    searcher.on_pause("a")
    assert searcher.paused == {"a"} and isinstance(searcher.suggest("c"), dict)
    searcher.on_unpause("a")
    assert searcher.running == {"a", "b", "c"}
    searcher.on_trial_result("a", {"loss": 1.0, "training_iteration": 1})
    searcher.on_trial_complete("b", {"loss": 1.0, "training_iteration": 1})
    assert searcher.running == {"a", "c"}


def test_native_configuration_space_with_a_condition():
    cs = CS.ConfigurationSpace(seed=3)
    optimizer = CS.CategoricalHyperparameter("optimizer", ["sgd", "adam"])
    momentum = CS.UniformFloatHyperparameter("momentum", 0.0, 1.0)
    cs.add([optimizer, momentum, CS.UniformFloatHyperparameter("lr", 1e-4, 1e-1, log=True), CS.EqualsCondition(momentum, optimizer, "sgd")])
    searcher = TuneBOHB(cs, metric="loss", mode="min", seed=0, bohb_config={"min_points_in_model": 3, "random_fraction": 0.0})
    configs = _run(searcher, 15, loss=lambda c: c["lr"] + c.get("momentum", 0.5))
    for config in configs:
        assert ("momentum" in config) == (config["optimizer"] == "sgd")
        assert type(config["optimizer"]) is str and 1e-4 <= config["lr"] <= 1e-1


def test_save_restore_continues_the_same_sequence(tmp_path):
    original = TuneBOHB(SPACE, metric="loss", mode="min", seed=4, bohb_config={"min_points_in_model": 3})
    _run(original, 12)
    original.save(str(tmp_path / "state.pkl"))
    restored = TuneBOHB(metric="loss", mode="min")
    restored.restore(str(tmp_path / "state.pkl"))
    assert _run(restored, 5, "n") == _run(original, 5, "n")


def test_quantization_is_dropped_with_a_warning():
    with pytest.warns(UserWarning, match="ignores the quantization q=5 of parameter 'step'"):
        searcher = TuneBOHB({"step": qrandint(0, 20, 5)}, metric="loss", mode="min")
    assert 0 <= searcher.suggest("a")["step"] <= 20


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"mode": "maximize"}, "mode must be one of 'min', 'max'"),
        ({"space": {"f": sample_from(lambda spec: 1)}}, r"parameter 'f'.*Function"),
        ({"space": {"g": grid_search([1, 2])}}, "grid_search"),
        ({"bohb_config": {"min_points": 3}}, r"bohb_config keys must be among"),
        ({"bohb_config": {"top_n_percent": 100}}, r"bohb_config\['top_n_percent'\] must be a number in \(0, 100\)"),
        ({"bohb_config": {"random_fraction": 2}}, r"bohb_config\['random_fraction'\] must be a number in \[0, 1\]"),
        ({"seed": 1.5}, "seed must be an int or None"),
        ({"max_concurrent": -1}, "max_concurrent must be an int >= 0"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TuneBOHB(**kwargs)


def test_package_import_does_not_import_configspace_and_missing_library_names_the_extra():
    code = (
        "import sys; import tunesmith.search.bohb as m; assert 'ConfigSpace' not in sys.modules; "
        "sys.modules['ConfigSpace'] = None\n"
        "try:\n    m.TuneBOHB()\nexcept ImportError as e:\n    print(e)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert 'pip install "tunesmith[bohb]"' in out.stdout
