import math
import sys

import pytest

from tunesmith.error import TuneError
from tunesmith.experiment import Trial
from tunesmith.schedulers.pb2 import PB2, pb2_training_data, pb2_ucb_beta
from tunesmith.testing import Simulator, check_scheduler_save_restore

pytest.importorskip("sklearn")


@pytest.mark.parametrize(
    ("observations", "rows", "targets"),
    [
        ([], [], []),
        ([("a", 1, (0.1,), 1.0)], [], []),
        ([("a", 1, (0.1,), 1.0), ("a", 3, (0.1,), 5.0)], [[3, 1.0, 0.1]], [2.0]),
        # changed hyperparameters (an exploit) start a new segment
        ([("a", 1, (0.1,), 1.0), ("a", 2, (0.5,), 3.0), ("a", 4, (0.5,), 4.0)], [[4, 3.0, 0.5]], [0.5]),
        # trials are kept apart; time must move forward
        (
            [("a", 1, (0.1, 0.2), 1.0), ("b", 1, (0.3, 0.4), 2.0), ("b", 2, (0.3, 0.4), 4.0), ("a", 1, (0.1, 0.2), 9.0)],
            [[2, 2.0, 0.3, 0.4]],
            [2.0],
        ),
    ],
)
def test_training_data(observations, rows, targets):
    X, y = pb2_training_data(observations)
    assert X.tolist() == rows and y.tolist() == targets


@pytest.mark.parametrize(("n", "beta"), [(0, 0.2), (1, 0.2), (2, 0.2), (3, 0.2 + math.log(1.2)), (10, 0.2 + math.log(4))])
def test_ucb_beta(n, beta):
    assert pb2_ucb_beta(n) == pytest.approx(beta)


@pytest.mark.parametrize(
    ("bounds", "error", "match"),
    [
        (None, TuneError, "PB2 needs hyperparam_bounds"),
        ([("lr", [0, 1])], TypeError, r"hyperparam_bounds must be a dict like .*got list"),
        ({}, TuneError, "PB2 needs hyperparam_bounds"),
        ({"lr": [1]}, ValueError, r"hyperparam_bounds\['lr'\] must be a \[min, max\] list"),
        ({"lr": 0.1}, ValueError, r"must be a \[min, max\] list or tuple, got 0.1"),
        ({"lr": [2, 1]}, ValueError, r"must be in \(min, max\) order with min < max, got \[2, 1\]"),
        ({"o": {"m": ["a", "b"]}}, ValueError, r"hyperparam_bounds\['o'\]\['m'\] must hold two numbers"),
    ],
)
def test_bounds_validation(bounds, error, match):
    with pytest.raises(error, match=match):
        PB2(hyperparam_bounds=bounds)


def test_pbt_validation_applies():
    with pytest.raises(ValueError, match="quantile_fraction must be in"):
        PB2(hyperparam_bounds={"lr": [0, 1]}, quantile_fraction=0.9)


def test_missing_sklearn_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    with pytest.raises(ImportError, match=r'pip install "tunesmith\[pb2\]"'):
        PB2(hyperparam_bounds={"lr": [0, 1]})


def test_missing_keys_are_sampled_within_bounds():
    pb2 = PB2(metric="m", mode="max", hyperparam_bounds={"lr": [0.1, 0.2], "o": {"batch": [16, 64]}}, seed=0)
    trial = Trial("f", trial_id="t", config={"x": 1})
    pb2.on_trial_add(trial)
    assert 0.1 <= trial.config["lr"] <= 0.2
    assert isinstance(trial.config["o"]["batch"], int) and 16 <= trial.config["o"]["batch"] <= 64


def _curve(config, t):
    # the best learning rate is 0.3; batch size barely matters
    return t * (1.0 - (config["lr"] - 0.3) ** 2) + 0.001 * config["o"]["batch"]


BOUNDS = {"lr": [0.01, 0.5], "o": {"batch": [16, 256]}}


def test_suggestions_stay_within_bounds_and_keep_types():
    pb2 = PB2(time_attr="training_iteration", perturbation_interval=2, hyperparam_bounds=BOUNDS, seed=0)
    configs = [{"lr": lr, "o": {"batch": 32}} for lr in (0.5, 0.4, 0.2, 0.1, 0.05, 0.01)]
    sim = Simulator(pb2, _curve, configs, num_slots=3, max_iterations=10).run()
    records = pb2.policy_records()
    assert len(records) >= 4 and not sim.stranded()
    for record in records:
        new = record["new_config"]
        assert 0.01 <= new["lr"] <= 0.5
        assert isinstance(new["o"]["batch"], int) and 16 <= new["o"]["batch"] <= 256
    assert any(r["new_config"]["lr"] not in {c["lr"] for c in configs} for r in records)
    tag = next(t.experiment_tag for t in sim.trials if t.trial_id == records[-1]["trial_id"])
    assert tag.startswith(f"{int(records[-1]['trial_tag'])}@perturbed[lr=") and ",batch=" in tag


def test_save_restore_mid_run_decides_alike(tmp_path):
    # also shows that a seeded PB2 repeats itself: the restored run is compared with a fresh one
    def factory():
        return PB2(time_attr="training_iteration", perturbation_interval=3, hyperparam_bounds={"lr": [0.01, 0.5]}, seed=0)

    check_scheduler_save_restore(factory, tmp_path)
