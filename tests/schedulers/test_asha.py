import math

import pytest

from tunesmith.error import TuneError
from tunesmith.experiment import Trial
from tunesmith.schedulers import ASHAScheduler, AsyncHyperBandScheduler, Decision
from tunesmith.schedulers._async_hyperband import (
    asha_bracket_probabilities,
    asha_continues,
    asha_cutoff,
    asha_milestones,
)
from tunesmith.testing import Simulator, check_scheduler


# Li et al. 2020, Algorithm 2: bracket s has rungs k >= 0 at r * eta**(s + k), up to R.
@pytest.mark.parametrize(
    ("grace", "max_t", "eta", "bracket", "expected"),
    [
        (1, 100, 4, 0, [64, 16, 4, 1]),  # Ray Tune's observed rungs [V]
        (1, 100, 4, 1, [64, 16, 4]),
        (1, 100, 4, 3, [64]),
        (1, 100, 4, 4, []),
        (1, 81, 3, 0, [81, 27, 9, 3, 1]),  # R a power of eta: the top rung is R itself
        (1, 80, 3, 0, [27, 9, 3, 1]),
        (2, 100, 3, 0, [54, 18, 6, 2]),
        (10, 100, 2, 0, [80, 40, 20, 10]),
        (5, 5, 2, 0, [5]),
        (0.5, 4, 2, 0, [4.0, 2.0, 1.0, 0.5]),
        (1, 10, 2.5, 0, [6.25, 2.5, 1.0]),
    ],
)
def test_milestones_follow_the_paper(grace, max_t, eta, bracket, expected):
    milestones = asha_milestones(grace, max_t, eta, bracket)
    assert milestones == expected
    ks = range(len(milestones) - 1, -1, -1)
    assert milestones == [grace * eta ** (bracket + k) for k in ks]
    assert all(m <= max_t for m in milestones)
    assert grace * eta ** (bracket + len(milestones)) > max_t


@pytest.mark.parametrize(
    ("recorded", "eta", "expected"),
    [
        ([], 4, None),
        ([math.nan], 2, None),
        ([1.0], 4, 1.0),
        ([1.0, 2.0, 3.0, 4.0], 4, 3.25),  # the 75th percentile
        ([1.0, 2.0, 3.0, 4.0], 2, 2.5),  # the median
        ([0.0, 10.0], 3, 20 / 3),
        ([math.nan, 1.0, 2.0], 2, 1.5),
        ([-5.0, -1.0], 2, -3.0),
    ],
)
def test_cutoff_is_the_one_minus_one_over_eta_quantile(recorded, eta, expected):
    assert asha_cutoff(recorded, eta) == pytest.approx(expected) if expected is not None else asha_cutoff(recorded, eta) is None


@pytest.mark.parametrize(("eta", "kept"), [(2, 50), (3, 33), (4, 25), (10, 10)])
def test_only_the_top_one_over_eta_continue_at_a_full_rung(eta, kept):
    recorded = [float(v) for v in range(100)]
    assert sum(asha_continues(recorded, score, eta) for score in recorded) == kept


@pytest.mark.parametrize(
    ("recorded", "score", "continues"),
    [([], -1e9, True), ([1.0, 2.0], 1.5, True), ([1.0, 2.0], 1.49, False), ([3.0], 3.0, True)],
)
def test_continues_table(recorded, score, continues):
    assert asha_continues(recorded, score, 2) is continues


@pytest.mark.parametrize(
    ("rung_counts", "expected"),
    [
        ([4], [1.0]),
        ([2, 2], [0.5, 0.5]),
        ([2, 1], [math.e / (math.e + 1), 1 / (math.e + 1)]),
        ([3, 2, 1], [v / (1 + math.e**-1 + math.e**-2) for v in (1, math.e**-1, math.e**-2)]),
    ],
)
def test_bracket_probabilities_are_a_softmax_of_rung_counts(rung_counts, expected):
    assert asha_bracket_probabilities(rung_counts) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"max_t": 0}, "max_t must be > 0, got 0"),
        ({"grace_period": 0}, "grace_period must be > 0, got 0"),
        ({"max_t": 5, "grace_period": 10}, "max_t must be >= grace_period"),
        ({"reduction_factor": 1}, "reduction_factor must be > 1, got 1"),
        ({"brackets": 0}, "brackets must be > 0, got 0"),
        ({"mode": "maximize"}, "mode must be 'min' or 'max', got 'maximize'"),
    ],
)
def test_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        AsyncHyperBandScheduler(**kwargs)


def test_alias_and_default_rungs():
    assert ASHAScheduler is AsyncHyperBandScheduler
    assert ASHAScheduler().milestones() == [[64, 16, 4, 1]]


def test_trials_need_a_metric_and_mode():
    with pytest.raises(ValueError, match="needs a metric and a mode"):
        ASHAScheduler().on_trial_add(Trial("f", trial_id="t", config={}))


def test_mode_alone_means_the_default_metric():
    scheduler = ASHAScheduler()
    assert scheduler.set_search_properties(None, "max")
    assert scheduler.metric == "_metric"


def test_results_without_time_attr_or_metric_continue_once_both_were_seen():
    scheduler = ASHAScheduler(metric="acc", mode="max", grace_period=1, max_t=4)
    trial = Trial("f", trial_id="t", config={})
    scheduler.on_trial_add(trial)
    assert scheduler.on_trial_result(trial, {"training_iteration": 1, "acc": 1.0}) is Decision.CONTINUE
    assert scheduler.on_trial_result(trial, {"acc": 1.0}) is Decision.CONTINUE
    assert scheduler.on_trial_result(trial, {"training_iteration": 4}) is Decision.CONTINUE
    assert scheduler.on_trial_result(trial, {"training_iteration": 4, "acc": 1.0}) is Decision.STOP


@pytest.mark.parametrize(
    ("result", "match"),
    [
        ({"acc": 1.0, "trial_id": "t", "config/x": 1}, r"needs time_attr 'epoch' in the results, but the first result \(trial t\) lacks it; it reported: acc, trial_id\. Report 'epoch'"),
        ({"epoch": 1, "trial_id": "t"}, r"needs metric 'acc' in the results.*it reported: epoch, trial_id"),
        ({"trial_id": "t"}, r"needs time_attr 'epoch' and metric 'acc'.*lacks them"),
    ],
)
def test_a_first_result_without_time_attr_or_metric_is_an_error(result, match):
    scheduler = ASHAScheduler(time_attr="epoch", metric="acc", mode="max")
    trial = Trial("f", trial_id="t", config={})
    scheduler.on_trial_add(trial)
    with pytest.raises(TuneError, match=match):
        scheduler.on_trial_result(trial, result)


def _run(qualities, *, mode="max", slots=None, **kwargs):
    options = {"max_t": 9, "grace_period": 1, "reduction_factor": 3, "seed": 0, **kwargs}
    scheduler = ASHAScheduler(**options)
    sim = Simulator(
        scheduler,
        lambda config, t: config["q"] * t,
        [{"q": q} for q in qualities],
        mode=mode,
        num_slots=slots or len(qualities),
        max_iterations=options["max_t"] + 3,
    )
    return sim.run()


def test_a_trial_below_the_cutoff_of_its_rung_is_stopped_there():
    # All run at once, so they reach each rung in this order; the cutoff is the 2/3
    # quantile of the scores recorded there before.
    sim = _run([2, 0, 5, 1, 4.5, 3])
    assert [sim.iterations()[t.trial_id] for t in sim.trials] == [9, 1, 9, 1, 9, 1]
    assert sim.decisions(sim.trials[1].trial_id) == [Decision.STOP]


def test_trials_arriving_best_first_leave_only_the_best():
    sim = _run([5, 4, 3, 2, 1, 0])
    assert [sim.iterations()[t.trial_id] for t in sim.trials] == [9, 1, 1, 1, 1, 1]


def test_trials_arriving_worst_first_all_continue():
    sim = _run([0, 1, 2, 3, 4, 5])
    assert set(sim.iterations().values()) == {9}


def test_mode_min_stops_the_largest_losses():
    sim = _run([0, 1, 2, 3, 4, 5][::-1], mode="min")
    assert [sim.iterations()[t.trial_id] for t in sim.trials] == [9, 9, 9, 9, 9, 9]
    sim = _run([0, 1, 2, 3, 4, 5], mode="min")
    assert [sim.iterations()[t.trial_id] for t in sim.trials] == [9, 1, 1, 1, 1, 1]


def test_stopped_trials_stop_exactly_at_rungs_and_the_best_reaches_max_t():
    qualities = [7, 3, 11, 0, 5, 9, 2, 14, 6, 1, 12, 4, 8, 13, 10, 15]
    sim = _run(qualities, slots=4, max_t=16, reduction_factor=2)
    reached = [sim.iterations()[t.trial_id] for t in sim.trials]
    assert set(reached) <= {1, 2, 4, 8, 16}
    assert reached[qualities.index(15)] == 16
    assert sum(r == 16 for r in reached) < len(qualities) / 2
    assert not sim.stranded()


@pytest.mark.parametrize(("stop_last_trials", "reached"), [(True, 9), (False, 12)])
def test_stop_last_trials(stop_last_trials, reached):
    sim = _run([1.0], stop_last_trials=stop_last_trials)
    assert sim.iterations()[sim.trials[0].trial_id] == reached


def test_brackets_are_drawn_from_a_seeded_generator():
    def assignment(seed):
        scheduler = ASHAScheduler(metric="m", mode="max", max_t=64, grace_period=1, brackets=3, seed=seed)
        trials = [Trial("f", trial_id=str(i), config={}) for i in range(300)]
        for trial in trials:
            scheduler.on_trial_add(trial)
        return [scheduler._bracket_of[t.trial_id] for t in trials]

    first = assignment(7)
    assert first == assignment(7)
    counts = [first.count(b) for b in range(3)]
    assert counts[0] > counts[1] > counts[2] > 0  # rung counts 7, 6, 5: softmax weights


def test_debug_string():
    sim = _run([2, 0, 5, 1, 4.5, 3])
    text = sim.scheduler.debug_string()
    assert text.startswith("Using AsyncHyperBand: num_stopped=6")  # 3 below a cutoff, 3 at max_t
    assert "Bracket: Iter 9.000" in text


@pytest.mark.parametrize("brackets", [1, 3])
def test_contract(brackets, tmp_path):
    check_scheduler(lambda: ASHAScheduler(max_t=12, grace_period=1, reduction_factor=2, brackets=brackets, seed=3), tmp_path)
