"""Every scheduler over 1,000 simulated trials (``tunesmith.testing.Simulator``).

Each run takes a fraction of a second (PB2, whose explore step fits a Gaussian process,
is the exception and is marked slow). The learning curves are deterministic: trial ``i``
has quality ``q_i`` and reports ``q_i * (1 - exp(-t / 3))``, so which trials should survive
is known; the checks are the properties each algorithm promises at that scale.
"""

import math

import numpy as np
import pytest

from tunesmith import uniform
from tunesmith.experiment import TrialStatus
from tunesmith.schedulers import (
    ASHAScheduler,
    FIFOScheduler,
    HyperBandForBOHB,
    HyperBandScheduler,
    MedianStoppingRule,
    PopulationBasedTraining,
    ResourceChangingScheduler,
)
from tunesmith.experiment import Trial
from tunesmith.schedulers import Decision
from tunesmith.schedulers._async_hyperband import asha_cutoff, sorted_cutoff
from tunesmith.schedulers._median_stopping_rule import median_should_stop, running_mean
from tunesmith.schedulers._pbt import _Ranking
from tunesmith.schedulers._pbt_explore import pbt_quantiles
from tunesmith.testing import Simulator

N = 1000
MAX_T = 9
QUALITIES = [float(q) for q in np.random.default_rng(0).random(N)]
CONFIGS = [{"q": q, "lr": 0.1} for q in QUALITIES]


def curve(config, t):
    return config["q"] * (1 - math.exp(-t / 3)) + 0.01 * config["lr"]


def _simulate(scheduler, **options):
    options = {"num_slots": 8, "max_iterations": MAX_T, **options}
    sim = Simulator(scheduler, curve, CONFIGS, metric="score", mode="max", **options).run()
    assert not sim.stranded(), "trials left PENDING or PAUSED"
    assert all(t.status == TrialStatus.TERMINATED for t in sim.trials)
    return sim


def _reached(sim):
    reached = sim.iterations()
    return [reached[t.trial_id] for t in sim.trials]


def _best_index():
    return max(range(N), key=QUALITIES.__getitem__)


def test_fifo_runs_every_trial_to_the_end():
    sim = _simulate(FIFOScheduler())
    assert _reached(sim) == [MAX_T] * N


@pytest.mark.parametrize("brackets", [1, 3])
def test_asha_keeps_the_top_third_at_each_rung(brackets):
    sim = _simulate(ASHAScheduler(max_t=MAX_T, grace_period=1, reduction_factor=3, brackets=brackets, seed=0))
    reached = _reached(sim)
    assert set(reached) <= {1, 3, 9}
    assert reached[_best_index()] == MAX_T
    # asynchronous: early arrivals are promoted more easily, but roughly 1/3 go on per rung
    assert N / 3 / 2 < sum(r >= 3 for r in reached) < N / 3 * 2
    assert sum(reached) < N * MAX_T / (3 if brackets == 1 else 2)  # far fewer steps than FIFO
    if brackets == 1:
        assert sum(r == 9 for r in reached) < N / 9 * 2


@pytest.mark.parametrize("cls", [HyperBandScheduler, HyperBandForBOHB])
def test_hyperband_brackets_halve_as_planned(cls):
    scheduler = cls(max_t=MAX_T, reduction_factor=3)
    sim = _simulate(scheduler)
    reached = _reached(sim)
    assert set(reached) <= {1, 3, 9}
    # every full bracket ends with exactly the planned number of trials at each milestone
    plans = scheduler.bracket_plans()
    for band in scheduler._bands:
        for bracket, plan in zip(band, plans):
            if len(bracket.members) < plan[0][0]:
                continue  # the last, partial bracket (BOHB halves it anyway)
            index = {t.trial_id: i for i, t in enumerate(sim.trials)}
            got = sorted((reached[index[m]] for m in bracket.members), reverse=True)
            for n, r in plan:
                assert sum(g >= r for g in got) == n
            best = max(bracket.members, key=lambda m: QUALITIES[index[m]])
            assert reached[index[best]] == MAX_T  # the bracket's best survives every halving


def test_median_stopping_rule_keeps_the_best_and_stops_after_the_grace_period():
    sim = _simulate(MedianStoppingRule(time_attr="training_iteration", grace_period=3, min_samples_required=3))
    reached = _reached(sim)
    assert min(reached) >= 3  # nobody is stopped within the grace period
    assert reached[_best_index()] == MAX_T
    stopped = [q for q, r in zip(QUALITIES, reached) if r < MAX_T]
    kept = [q for q, r in zip(QUALITIES, reached) if r == MAX_T]
    assert stopped and kept and np.median(stopped) < np.median(kept)


@pytest.mark.parametrize("synch", [False, True])
def test_pbt_exploits_better_trials_across_the_population(synch):
    pbt = PopulationBasedTraining(
        time_attr="training_iteration", perturbation_interval=3, hyperparam_mutations={"lr": uniform(0, 1)}, synch=synch, seed=0
    )
    sim = _simulate(pbt)
    records = pbt.policy_records()
    assert len(records) > N / 10
    assert all(r["donor_id"] != r["trial_id"] for r in records)
    # donors come from the top quantile: better than the population on average
    assert np.mean([r["old_config"]["q"] for r in records]) > np.mean(QUALITIES) + 0.2
    # the exploited trials restarted from the donor's checkpoint
    restarts = {(launch.trial_id, launch.iteration) for launch in sim.launches}
    assert all((r["trial_id"], r["donor_iteration"]) in restarts for r in records)
    if synch:  # the population met at 3 and 6: nobody went past a meeting point early
        for boundary in (3, 6):
            first_past = min(e.tick for e in sim.events if e.iteration > boundary)
            last_arrival = max(e.tick for e in sim.events if e.iteration == boundary)
            assert first_past > last_arrival


def test_resource_changing_scheduler_never_oversubscribes():
    scheduler = ResourceChangingScheduler(ASHAScheduler(max_t=MAX_T, grace_period=1, reduction_factor=3, seed=0))
    sim = _simulate(scheduler, total_resources={"cpu": 16}, num_slots=16)
    grown = [launch for launch in sim.launches if launch.resources["cpu"] > 1]
    assert grown  # trials got more CPUs once fewer were left waiting
    assert all(launch.resources["cpu"] <= 16 for launch in sim.launches)
    assert _reached(sim)[_best_index()] == MAX_T


@pytest.mark.slow
def test_pb2_over_a_thousand_trials():
    pytest.importorskip("sklearn")
    from tunesmith.schedulers.pb2 import PB2

    pb2 = PB2(time_attr="training_iteration", perturbation_interval=3, hyperparam_bounds={"lr": [0.0, 1.0]}, quantile_fraction=0.005, seed=0)
    _simulate(pb2)
    records = pb2.policy_records()
    assert records and all(0.0 <= r["new_config"]["lr"] <= 1.0 for r in records)


# -- the fast paths give the plain algorithms' answers -----------------------------------------


def test_sorted_cutoff_is_numpys_percentile():
    rng = np.random.default_rng(1)
    for _ in range(2000):
        n = int(rng.integers(1, 40))
        values = [float(v) for v in rng.normal(size=n) * 10.0 ** rng.integers(-3, 4)]
        if rng.random() < 0.3:
            values = [round(v, 1) for v in values]  # ties
        eta = float(rng.choice([2, 3, 4, 1.5, 2.7, 10]))
        expected = float(np.percentile(values, (1 - 1 / eta) * 100))
        assert sorted_cutoff(sorted(values), eta) == expected
        assert asha_cutoff(values + [math.nan], eta) == expected


def test_ranking_quantiles_are_pbt_quantiles():
    rng = np.random.default_rng(2)
    for _ in range(500):
        n = int(rng.integers(0, 30))
        scores = {f"t{i}": float(rng.integers(0, 6)) for i in range(n)}  # many ties
        if n and rng.random() < 0.3:
            scores[f"t{int(rng.integers(n))}"] = math.nan
        ranking = _Ranking()
        for order, (trial_id, score) in enumerate(scores.items()):
            ranking.set(trial_id, order, score + 100.0)
            ranking.set(trial_id, order, score)  # updated: the old entry goes
        fraction = float(rng.choice([0.0, 0.1, 0.25, 0.5]))
        assert ranking.quantiles(fraction) == pbt_quantiles(scores, fraction)


def _plain_median_rule(histories, trial_id, t, grace, min_samples):
    """The median stopping rule as written in the paper: one pass over every history."""
    history = histories[trial_id]
    if t < grace:
        return Decision.CONTINUE
    others = [h for i, h in histories.items() if i != trial_id and h and h[-1][0] >= t]
    if len(others) < min_samples:
        return None
    means = [running_mean(h, grace, t) for h in others]
    return Decision.STOP if median_should_stop(max(s for _, s in history), means) else Decision.CONTINUE


@pytest.mark.parametrize("seed", range(6))
def test_median_rule_cache_gives_the_plain_decisions(seed):
    rng = np.random.default_rng(seed)
    grace, min_samples = 2, 2
    scheduler = MedianStoppingRule(time_attr="t", metric="m", mode="max", grace_period=grace, min_samples_required=min_samples)
    trials = [Trial("f", trial_id=f"t{i}", config={}) for i in range(12)]
    for trial in trials:
        scheduler.on_trial_add(trial)
        trial.status = Trial.RUNNING
    histories = {trial.trial_id: [] for trial in trials}
    clock = {trial.trial_id: 0 for trial in trials}
    for _ in range(400):
        trial = trials[int(rng.integers(len(trials)))]
        if trial.trial_id in scheduler._stopped:
            continue
        step = int(rng.choice([1, 1, 1, 0])) if seed < 3 else int(rng.choice([1, 1, 0, -2]))  # repeats; going back
        clock[trial.trial_id] = max(0, clock[trial.trial_id] + step)
        t = clock[trial.trial_id]
        score = math.nan if rng.random() < 0.03 else float(rng.integers(0, 8))
        histories[trial.trial_id].append((t, score))
        expected = _plain_median_rule(histories, trial.trial_id, t, grace, min_samples)
        decision = scheduler.on_trial_result(trial, {"t": t, "m": score})
        if expected is not None:  # None: too few samples (the rule may pause; nothing waits here)
            assert decision is expected, (t, histories[trial.trial_id])


@pytest.mark.filterwarnings("ignore:.*no trial has saved a checkpoint")
def test_pbt_chooses_the_least_trained_waiting_trial_first_added_on_ties():
    pbt = PopulationBasedTraining(time_attr="training_iteration", metric="m", mode="max", perturbation_interval=2, hyperparam_mutations={"lr": [0.1, 0.2]})
    trials = [Trial("f", trial_id=f"t{i}", config={"lr": 0.1}) for i in range(5)]
    for trial in trials:
        pbt.on_trial_add(trial)
        trial.status = Trial.RUNNING
    for trial, t in zip(trials, [4, 2, 6, 2, 2]):
        pbt.on_trial_result(trial, {"training_iteration": t, "m": float(t)})
    for trial in trials:
        trial.status = Trial.PAUSED
    trials[1].status = Trial.RUNNING
    # t1 trained least but runs; t3 and t4 tie at 2: t3 was added first, whatever the order given
    assert pbt.choose_trial_to_run(trials[::-1]) is trials[3]
    assert pbt.choose_trial_to_run([trials[0], trials[2], trials[4]]) is trials[4]
    assert pbt.choose_trial_to_run([trials[1]]) is None
