import json
import os
import warnings

import numpy as np
import pytest

from tunesmith import choice, grid_search, randint, sample_from, uniform
from tunesmith.error import TuneError
from tunesmith.experiment import Trial
from tunesmith.schedulers import Decision, PopulationBasedTraining, PopulationBasedTrainingReplay
from tunesmith.schedulers._pbt_explore import explore, fill_missing, pbt_quantiles, perturbed_tag
from tunesmith.schedulers._pbt_replay import pbt_policy_schedule
from tunesmith.testing import SimulatedCheckpoint, Simulator, check_scheduler


@pytest.mark.parametrize(
    ("scores", "fraction", "expected"),
    [
        ({}, 0.25, ([], [])),
        ({"a": 1.0}, 0.5, ([], [])),
        ({"a": 1.0, "b": 2.0}, 0.25, (["a"], ["b"])),
        ({"a": 1.0, "b": 4.0, "c": 2.0, "d": 3.0}, 0.25, (["a"], ["b"])),
        ({"a": 1.0, "b": 4.0, "c": 2.0, "d": 3.0}, 0.5, (["a", "c"], ["d", "b"])),
        ({"a": 3.0, "b": 1.0, "c": 2.0}, 0.5, (["b"], ["a"])),  # never more than half
        ({str(i): float(i) for i in range(10)}, 0.25, (["0", "1", "2"], ["7", "8", "9"])),  # ceil(2.5)
        ({str(i): float(i) for i in range(10)}, 0.3, (["0", "1", "2"], ["7", "8", "9"])),  # 10 * 0.3 is 3
        ({"a": 1.0, "b": 2.0}, 0.0, ([], [])),
        ({"a": 1.0, "b": 1.0, "c": 1.0, "d": 1.0}, 0.25, (["a"], ["d"])),  # ties keep their order
    ],
)
def test_quantiles(scores, fraction, expected):
    assert pbt_quantiles(scores, fraction) == expected


def _outcomes(config, mutations, *, p=0.0, factors=(1.2, 0.8), seeds=range(30)):
    values = []
    for seed in seeds:
        new, _ = explore(config, mutations, np.random.default_rng(seed), resample_probability=p, perturbation_factors=factors)
        values.append(json.dumps(new, sort_keys=True))
    return {json.loads(v) if False else v for v in values}


def _as_set(*configs):
    return {json.dumps(c, sort_keys=True) for c in configs}


@pytest.mark.parametrize(
    ("config", "mutations", "p", "factors", "expected"),
    [
        # Domains and callables: multiplied by a factor...
        ({"lr": 1.0}, {"lr": uniform(0, 10)}, 0.0, (2.0,), [{"lr": 2.0}]),
        ({"lr": 1.0}, {"lr": uniform(0, 10)}, 0.0, (1.2, 0.8), [{"lr": 1.2}, {"lr": 0.8}]),
        ({"lr": 1.0}, {"lr": lambda: 5.0}, 0.0, (0.5,), [{"lr": 0.5}]),
        # ... ints stay ints (rounded), bools are kept...
        ({"n": 3}, {"n": randint(1, 10)}, 0.0, (1.2,), [{"n": 4}]),
        ({"n": 3}, {"n": randint(1, 10)}, 0.0, (0.8,), [{"n": 2}]),
        ({"flag": True}, {"flag": lambda: False}, 0.0, (2.0,), [{"flag": True}]),
        # ... or resampled with resample_probability (always for values that are not numbers)
        ({"lr": 1.0}, {"lr": lambda: 42.0}, 1.0, (2.0,), [{"lr": 42.0}]),
        ({"opt": "x"}, {"opt": lambda: "y"}, 0.0, (2.0,), [{"opt": "y"}]),
        # lists shift to a neighbour (clamped at the ends)...
        ({"b": 2}, {"b": [1, 2, 3]}, 0.0, (1.2,), [{"b": 1}, {"b": 3}]),
        ({"b": 1}, {"b": [1, 2, 3]}, 0.0, (1.2,), [{"b": 1}, {"b": 2}]),
        ({"b": "sgd"}, {"b": choice(["adam", "sgd", "rms"])}, 0.0, (1.2,), [{"b": "adam"}, {"b": "rms"}]),
        # ... and resample when asked to or when the value is not in the list
        ({"b": 2}, {"b": [5]}, 1.0, (1.2,), [{"b": 5}]),
        ({"b": 7}, {"b": [1, 2]}, 0.0, (1.2,), [{"b": 1}, {"b": 2}]),
        # nested dicts recurse; other keys are kept
        ({"opt": {"m": 0.5, "k": 1}, "x": 3}, {"opt": {"m": uniform(0, 1)}}, 0.0, (2.0,), [{"opt": {"m": 1.0, "k": 1}, "x": 3}]),
        # a key the config lacks is sampled
        ({}, {"lr": [0.1]}, 0.0, (2.0,), [{"lr": 0.1}]),
    ],
)
def test_explore_rules(config, mutations, p, factors, expected):
    assert _outcomes(config, mutations, p=p, factors=factors) == _as_set(*expected)


def test_explore_leaves_the_input_alone_and_reports_operations():
    config = {"a": {"b": 1.0}, "c": [1, 2]}
    new, operations = explore(config, {"a": {"b": uniform(0, 1)}}, np.random.default_rng(0), resample_probability=0, perturbation_factors=(2.0,))
    assert config == {"a": {"b": 1.0}, "c": [1, 2]}
    assert new == {"a": {"b": 2.0}, "c": [1, 2]}
    assert operations == {"a": {"b": "* 2.0"}}


def test_custom_explore_fn_runs_last():
    new, _ = explore({"lr": 1.0}, {"lr": [1.0]}, np.random.default_rng(0), custom_explore_fn=lambda c: {**c, "lr": c["lr"] + 10})
    assert new == {"lr": 11.0}
    with pytest.raises(TypeError, match="custom_explore_fn must return the new config"):
        explore({"lr": 1.0}, {}, np.random.default_rng(0), custom_explore_fn=lambda c: None)


@pytest.mark.parametrize(
    ("config", "mutations", "expected"),
    [
        ({"a": 1}, {"a": [5]}, None),
        ({}, {"a": [5]}, {"a": 5}),
        ({"x": 0}, {"o": {"m": [7]}}, {"x": 0, "o": {"m": 7}}),
        ({"o": {"m": 1}}, {"o": {"m": [7], "n": lambda: "z"}}, {"o": {"m": 1, "n": "z"}}),
    ],
)
def test_fill_missing(config, mutations, expected):
    assert fill_missing(config, mutations, np.random.default_rng(0)) == expected


def test_perturbed_tag():
    assert perturbed_tag("2_lr=0.1000", {"lr": 0.12, "b": 3}, {"lr": []}) == "2_lr=0.1000@perturbed[lr=0.1200]"


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        ([["b", "a", 5, 4, {"x": 1}, {"x": 2}]], ({"x": 1}, [(4, {"x": 2})])),
        (
            [["b", "a", 5, 4, {"x": 1}, {"x": 2}], ["c", "b", 9, 8, {"x": 2}, {"x": 3}]],
            ({"x": 1}, [(4, {"x": 2}), (8, {"x": 3})]),
        ),
        # a line that is not the donor of the next one ends the lineage
        (
            [["q", "p", 3, 2, {"x": 0}, {"x": 9}], ["c", "b", 9, 8, {"x": 2}, {"x": 3}]],
            ({"x": 2}, [(8, {"x": 3})]),
        ),
    ],
)
def test_policy_schedule(lines, expected):
    assert pbt_policy_schedule(lines) == expected


def test_policy_schedule_needs_lines():
    with pytest.raises(ValueError, match="at least one line"):
        pbt_policy_schedule([])


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({}, TuneError, "needs hyperparam_mutations or custom_explore_fn"),
        ({"hyperparam_mutations": {"a": [1]}, "quantile_fraction": 0.6}, ValueError, r"quantile_fraction must be in \[0, 0.5\], got 0.6"),
        ({"hyperparam_mutations": {"a": [1]}, "quantile_fraction": -0.1}, ValueError, "quantile_fraction must be in"),
        ({"hyperparam_mutations": {"a": [1]}, "perturbation_interval": 0}, ValueError, "perturbation_interval must be > 0, got 0"),
        ({"hyperparam_mutations": {"a": [1]}, "burn_in_period": -1}, ValueError, "burn_in_period must be >= 0"),
        ({"hyperparam_mutations": {"a": [1]}, "resample_probability": 2}, ValueError, r"resample_probability must be in \[0, 1\]"),
        ({"hyperparam_mutations": {"a": [1]}, "perturbation_factors": ()}, ValueError, "perturbation_factors must hold"),
        ({"hyperparam_mutations": {"a": 3}}, TypeError, r"hyperparam_mutations\['a'\] must be a list, a dict"),
        ({"hyperparam_mutations": {"a": []}}, ValueError, "must list at least one value"),
        ({"hyperparam_mutations": {"a": sample_from(lambda _: 1)}}, ValueError, "must not be a sample_from"),
        ({"hyperparam_mutations": {"a": grid_search([1, 2])}}, ValueError, "must not be a grid_search"),
        ({"hyperparam_mutations": {"o": {"m": "x"}}}, TypeError, r"hyperparam_mutations\['o'\]\['m'\]"),
        ({"hyperparam_mutations": {"a": [1]}, "mode": "high"}, ValueError, "mode must be 'min' or 'max'"),
    ],
)
def test_validation(kwargs, error, match):
    with pytest.raises(error, match=match):
        PopulationBasedTraining(**kwargs)


def test_custom_explore_fn_alone_is_enough():
    PopulationBasedTraining(custom_explore_fn=lambda c: c)


def _trials(n, **config):
    return [Trial("f", trial_id=f"t{i}", config=dict(config), experiment_tag=str(i)) for i in range(n)]


def test_missing_mutated_keys_are_sampled_when_a_trial_is_added():
    pbt = PopulationBasedTraining(metric="m", mode="max", hyperparam_mutations={"lr": uniform(1, 2), "o": {"b": [8]}}, seed=0)
    (trial,) = _trials(1, x=1)
    pbt.on_trial_add(trial)
    assert 1 <= trial.config["lr"] < 2 and trial.config["o"] == {"b": 8} and trial.config["x"] == 1
    with pytest.raises(ValueError, match="needs a metric and a mode"):
        PopulationBasedTraining(hyperparam_mutations={"a": [1]}).on_trial_add(trial)


@pytest.mark.parametrize(
    ("mutations", "error", "match"),
    [
        ([("lr", [0.1])], TypeError, r"hyperparam_mutations must be a dict of .*got list: \[\('lr', \[0.1\]\)\]"),
        ("lr", TypeError, "hyperparam_mutations must be a dict of .*got str: 'lr'"),
        ({}, TuneError, r"needs hyperparam_mutations or custom_explore_fn.*got hyperparam_mutations=\{\}"),
    ],
)
def test_hyperparam_mutations_must_be_a_non_empty_dict(mutations, error, match):
    with pytest.raises(error, match=match):
        PopulationBasedTraining(hyperparam_mutations=mutations)


def test_require_attrs():
    pbt = PopulationBasedTraining(metric="m", mode="max", hyperparam_mutations={"a": [1]})
    (trial,) = _trials(1)
    pbt.on_trial_add(trial)
    with pytest.raises(RuntimeError, match="every result must contain time_attr 'time_total_s' and metric 'm'"):
        pbt.on_trial_result(trial, {"m": 1})
    lax = PopulationBasedTraining(metric="m", mode="max", hyperparam_mutations={"a": [1]}, require_attrs=False)
    lax.on_trial_add(trial)
    assert lax.on_trial_result(trial, {"m": 1}) is Decision.CONTINUE


def _population(pbt, scores, *, time=10):
    """Trials that each reported ``score`` at ``time``; none has a checkpoint (so no exploit yet)."""
    trials = _trials(len(scores), lr=0.1)
    for trial in trials:
        pbt.on_trial_add(trial)
        trial.status = Trial.RUNNING
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "no trial has saved a checkpoint": none has, on purpose
        decisions = [pbt.on_trial_result(t, {"time_total_s": time, "m": m, "training_iteration": time}) for t, m in zip(trials, scores)]
    return trials, decisions


def _checkpoint(trial, iteration=10):
    trial.checkpoint = SimulatedCheckpoint(trial.trial_id, iteration, dict(trial.config))


def test_bottom_trial_clones_a_top_trial_and_explores():
    pbt = PopulationBasedTraining(
        metric="m", mode="max", perturbation_interval=10, hyperparam_mutations={"lr": uniform(0, 1)}, perturbation_factors=(2.0,), resample_probability=0, seed=0
    )
    trials, _ = _population(pbt, [3.0, 4.0, 2.0, 1.0])
    for trial in trials:
        _checkpoint(trial)
    worst = trials[3]
    trials[1].config["lr"] = 0.3
    assert pbt.on_trial_result(worst, {"time_total_s": 20, "m": 1.0, "training_iteration": 20}) is Decision.PAUSE
    assert worst.restore_checkpoint is trials[1].checkpoint  # top quantile (1 of 4): trial 1
    assert worst.config == {"lr": 0.6}
    assert worst.experiment_tag == "3@perturbed[lr=0.6000]"
    worst.status = trials[2].status = Trial.PAUSED
    assert pbt.choose_trial_to_run([trials[2], worst]) is worst  # exploited trials restart first
    (record,) = pbt.policy_records()
    assert record["trial_id"] == "t3" and record["donor_id"] == "t1" and record["donor_iteration"] == 10
    assert record["old_config"] == {"lr": 0.3} and record["new_config"] == {"lr": 0.6}


def test_never_exploits_a_donor_without_checkpoint():
    pbt = PopulationBasedTraining(metric="m", mode="max", perturbation_interval=10, hyperparam_mutations={"lr": [0.1, 0.2]}, seed=0)
    trials, _ = _population(pbt, [3.0, 4.0, 2.0, 1.0])
    for trial in (trials[0], trials[2], trials[3]):
        _checkpoint(trial)  # all but the best
    worst = trials[3]
    assert pbt.on_trial_result(worst, {"time_total_s": 20, "m": 1.0}) is Decision.CONTINUE
    assert worst.config == {"lr": 0.1} and worst.restore_checkpoint is None and pbt.policy_records() == []
    _checkpoint(trials[1], 20)
    assert pbt.on_trial_result(worst, {"time_total_s": 30, "m": 1.0}) is Decision.PAUSE
    assert worst.restore_checkpoint is trials[1].checkpoint


def test_no_perturbation_before_the_interval_or_during_burn_in():
    pbt = PopulationBasedTraining(metric="m", mode="max", perturbation_interval=10, burn_in_period=25, hyperparam_mutations={"lr": [0.1, 0.2]})
    trials, decisions = _population(pbt, [3.0, 4.0, 2.0, 1.0], time=20)
    assert decisions == [Decision.CONTINUE] * 4
    assert pbt.on_trial_result(trials[3], {"time_total_s": 24, "m": 1.0}) is Decision.CONTINUE
    assert pbt.policy_records() == []


def _curve(config, t):
    return config["q"] * t + config["lr"]


def test_simulated_population_exploits_from_the_top(tmp_path):
    pbt = PopulationBasedTraining(time_attr="training_iteration", perturbation_interval=4, hyperparam_mutations={"lr": uniform(0.001, 1.0)}, seed=1)
    configs = [{"q": q, "lr": 0.1} for q in range(1, 9)]
    sim = Simulator(pbt, _curve, configs, num_slots=4, max_iterations=12, experiment_dir=str(tmp_path)).run()
    records = pbt.policy_records()
    assert records and not sim.stranded()
    for record in records:
        # the copied config is the donor's, with lr explored; donors were better trials
        assert record["new_config"]["q"] == record["old_config"]["q"] > int(record["trial_tag"]) + 1
        restarts = [launch.iteration for launch in sim.launches if launch.trial_id == record["trial_id"]]
        assert record["donor_iteration"] in restarts  # restarted from the donor's checkpoint
    lines = (tmp_path / "pbt_global.txt").read_text().splitlines()
    assert [json.loads(line)[:4] for line in lines] == [
        [r["trial_tag"], r["donor_tag"], r["trial_iteration"], r["donor_iteration"]] for r in records
    ]
    assert os.path.exists(tmp_path / f"pbt_policy_{records[0]['trial_id']}.txt")


def test_without_checkpoints_nothing_is_exploited():
    pbt = PopulationBasedTraining(time_attr="training_iteration", perturbation_interval=2, hyperparam_mutations={"lr": uniform(0.001, 1.0)}, seed=1)
    configs = [{"q": q, "lr": 0.1} for q in range(1, 9)]
    with pytest.warns(UserWarning, match="no trial has saved a checkpoint, so nothing is copied") as caught:
        sim = Simulator(pbt, _curve, configs, num_slots=8, max_iterations=12, checkpoint_frequency=0).run()
    assert len([w for w in caught if "checkpoint" in str(w.message)]) == 1  # said once
    assert pbt.policy_records() == []
    assert [t.config for t in sim.trials] == configs


def test_synch_waits_for_the_whole_population_at_each_interval():
    pbt = PopulationBasedTraining(
        time_attr="training_iteration", perturbation_interval=3, hyperparam_mutations={"lr": uniform(0.001, 1.0)}, synch=True, seed=1
    )
    configs = [{"q": q, "lr": 0.1} for q in range(1, 7)]
    sim = Simulator(pbt, _curve, configs, num_slots=2, max_iterations=10).run()
    assert not sim.stranded()
    for boundary in (3, 6):
        past = min((e.tick for e in sim.events if e.iteration > boundary), default=None)
        arrived = max(min(e.tick for e in sim.events if e.trial_id == t.trial_id and e.iteration >= boundary) for t in sim.trials)
        assert past is None or past > arrived, f"a trial went past {boundary} before all had reached it"
    assert {r["time"] for r in pbt.policy_records()} <= {3, 6, 9}


def test_replay_follows_the_policy_of_one_trial(tmp_path):
    pbt = PopulationBasedTraining(time_attr="training_iteration", perturbation_interval=4, hyperparam_mutations={"lr": uniform(0.001, 1.0)}, seed=1)
    configs = [{"q": q, "lr": 0.1} for q in range(1, 9)]
    Simulator(pbt, _curve, configs, num_slots=4, max_iterations=12, experiment_dir=str(tmp_path)).run()
    record = pbt.policy_records()[0]
    replay = PopulationBasedTrainingReplay(str(tmp_path / f"pbt_policy_{record['trial_id']}.txt"))
    sim = Simulator(replay, _curve, [{"q": 0, "lr": 0}], num_slots=1, max_iterations=12).run()
    (trial,) = sim.trials
    assert trial.config == record["new_config"]
    assert sim.events[0].value == _curve(record["old_config"], 1)
    assert sim.decisions(trial.trial_id)[record["donor_iteration"] - 1] is Decision.PAUSE
    assert [launch.iteration for launch in sim.launches] == [0, record["donor_iteration"]]
    assert "@perturbed[" in trial.experiment_tag


def test_replay_errors(tmp_path):
    with pytest.raises(ValueError, match="must be an existing pbt_policy"):
        PopulationBasedTrainingReplay(str(tmp_path / "missing.txt"))
    (tmp_path / "empty.txt").write_text("\n")
    with pytest.raises(ValueError, match="is empty"):
        PopulationBasedTrainingReplay(str(tmp_path / "empty.txt"))
    (tmp_path / "one.txt").write_text(json.dumps(["b", "a", 2, 2, {"x": 1}, {"x": 2}]) + "\n")
    replay = PopulationBasedTrainingReplay(str(tmp_path / "one.txt"))
    first, second = _trials(2)
    replay.on_trial_add(first)
    with pytest.raises(ValueError, match="Set num_samples=1"):
        replay.on_trial_add(second)


def test_debug_string():
    pbt = PopulationBasedTraining(metric="m", mode="max", hyperparam_mutations={"a": [1]})
    assert pbt.debug_string() == "PopulationBasedTraining: 0 perturbs"


@pytest.mark.parametrize("synch", [False, True])
def test_contract(synch, tmp_path):
    check_scheduler(
        lambda: PopulationBasedTraining(
            time_attr="training_iteration", perturbation_interval=3, hyperparam_mutations={"lr": uniform(0.01, 0.5)}, synch=synch, seed=0
        ),
        tmp_path,
    )
