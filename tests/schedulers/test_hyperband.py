import pytest

from tunesmith.error import TuneError
from tunesmith.experiment import Trial
from tunesmith.schedulers import Decision, HyperBandForBOHB, HyperBandScheduler
from tunesmith.schedulers._hyperband import hyperband_bracket, hyperband_max_halvings, hyperband_num_to_keep
from tunesmith.testing import Simulator, check_scheduler

# Li et al. 2018, Table 1: R = 81, eta = 3; per bracket s the (n_i, r_i) of each stage i.
PAPER_TABLE = {
    4: [(81, 1), (27, 3), (9, 9), (3, 27), (1, 81)],
    3: [(34, 3), (11, 9), (3, 27), (1, 81)],
    2: [(15, 9), (5, 27), (1, 81)],
    1: [(8, 27), (2, 81)],
    0: [(5, 81)],
}


@pytest.mark.parametrize("s", sorted(PAPER_TABLE))
def test_bracket_plan_matches_the_paper(s):
    assert hyperband_max_halvings(81, 3) == 4
    assert hyperband_bracket(81, 3, s) == PAPER_TABLE[s]


@pytest.mark.parametrize(
    ("max_t", "eta", "s_max"),
    [(81, 3, 4), (80, 3, 3), (100, 3, 4), (27, 3, 3), (1, 3, 0), (2, 3, 0), (16, 2, 4), (9.0, 3, 2), (0.5, 2, 0)],
)
def test_max_halvings_is_floor_of_log(max_t, eta, s_max):
    assert hyperband_max_halvings(max_t, eta) == s_max


@pytest.mark.parametrize(
    ("max_t", "eta", "s", "plan"),
    [
        (100, 3, 4, [(81, 1), (27, 3), (9, 11), (3, 33), (1, 100)]),  # R not a power of eta: floored
        (9, 3, 1, [(5, 3), (1, 9)]),
        (9.0, 3, 2, [(9, 1.0), (3, 3.0), (1, 9.0)]),
        (8, 2, 3, [(8, 1), (4, 2), (2, 4), (1, 8)]),
    ],
)
def test_bracket_plan_other_budgets(max_t, eta, s, plan):
    assert hyperband_bracket(max_t, eta, s) == plan


@pytest.mark.parametrize(("n", "eta", "keep"), [(81, 3, 27), (34, 3, 11), (11, 3, 3), (3, 3, 1), (2, 3, 1), (1, 3, 1), (5, 2, 2)])
def test_num_to_keep(n, eta, keep):
    assert hyperband_num_to_keep(n, eta) == keep


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"max_t": 0}, "max_t must be > 0, got 0"),
        ({"reduction_factor": 1}, "reduction_factor must be > 1, got 1"),
        ({"mode": "up"}, "mode must be 'min' or 'max', got 'up'"),
    ],
)
@pytest.mark.parametrize("cls", [HyperBandScheduler, HyperBandForBOHB])
def test_validation(cls, kwargs, match):
    with pytest.raises(ValueError, match=match):
        cls(**kwargs)


@pytest.mark.parametrize("cls", [HyperBandScheduler, HyperBandForBOHB])
def test_needs_metric_and_mode_when_trials_are_added(cls):
    with pytest.raises(ValueError, match="needs a metric and a mode"):
        cls(metric="acc").on_trial_add(Trial("f", trial_id="t", config={}))


def test_buffered_results_are_not_supported():
    assert HyperBandScheduler().supports_buffered_results is False
    assert HyperBandForBOHB().supports_buffered_results is False


def test_bracket_order():
    # HyperBand fills s = 0 first and keeps ceil(n / eta) (as Ray Tune does); BOHB the largest bracket first.
    assert HyperBandScheduler(max_t=9).bracket_plans() == [[(3, 9)], [(5, 3), (2, 9)], [(9, 1), (3, 3), (1, 9)]]
    # Ray Tune rounds log_eta(max_t) and skips a bracket whose first milestone would be 0
    assert HyperBandScheduler(max_t=8).bracket_plans() == [[(3, 8)], [(5, 2), (2, 6)]]
    assert HyperBandForBOHB(max_t=9).bracket_plans() == [[(9, 1), (3, 3), (1, 9)], [(5, 3), (1, 9)], [(3, 9)]]


# 17 trials fill one band of max_t=9, eta=3: s=0 (trials 0-2), s=1 (3-7), s=2 (8-16).
QUALITIES = [3, 1, 2, 5, 9, 1, 7, 3, 4, 8, 2, 6, 9.5, 1, 3, 5, 7]
EXPECTED_REACHED = [9, 9, 9, 3, 9, 3, 9, 3, 1, 3, 1, 1, 9, 1, 1, 1, 3]


def _run(cls=HyperBandScheduler, qualities=QUALITIES, *, slots=None, max_iterations=20, **kwargs):
    scheduler = cls(**{"max_t": 9, "reduction_factor": 3, **kwargs})
    sim = Simulator(
        scheduler,
        lambda config, t: config["q"] * t,
        [{"q": q} for q in qualities],
        num_slots=slots or len(qualities),
        max_iterations=max_iterations,
    )
    return sim.run()


@pytest.mark.parametrize("slots", [17, 4, 1])
def test_top_one_over_eta_continue_at_each_milestone(slots):
    sim = _run(slots=slots)
    assert [sim.iterations()[t.trial_id] for t in sim.trials] == EXPECTED_REACHED
    assert all(t.status == "TERMINATED" for t in sim.trials)


def test_trials_pause_at_milestones_until_the_bracket_is_there():
    sim = _run()
    best = sim.trials[12].trial_id  # q=9.5 in bracket s=2
    assert sim.decisions(best)[0] is Decision.PAUSE
    assert sim.decisions(sim.trials[16].trial_id)[0] is Decision.CONTINUE  # last to arrive: halves, wins
    assert sim.decisions(sim.trials[13].trial_id) == [Decision.PAUSE]  # paused, then stopped as a loser
    # the winners that waited were resumed from their checkpoint at the milestone
    assert (best, 1) in [(launch.trial_id, launch.iteration) for launch in sim.launches]


def test_paused_losers_are_ended_through_pop_trials_to_stop():
    scheduler = HyperBandScheduler(metric="q", mode="max", max_t=9)
    trials = [Trial("f", trial_id=f"t{i}", config={}) for i in range(3)]
    for trial in trials:
        scheduler.on_trial_add(trial)
    for trial in trials:
        trial.status = Trial.RUNNING
    # bracket s=0 (3 trials, no halving): each waits at max_t until all three are there
    assert scheduler.on_trial_result(trials[0], {"training_iteration": 9, "q": 1}) is Decision.PAUSE
    loser_band = [Trial("f", trial_id=f"u{i}", config={}) for i in range(5)]  # bracket s=1: milestone 3
    for i, trial in enumerate(loser_band):
        scheduler.on_trial_add(trial)
        trial.status = Trial.RUNNING
    for i, trial in enumerate(loser_band[:-1]):
        assert scheduler.on_trial_result(trial, {"training_iteration": 3, "q": i}) is Decision.PAUSE
        trial.status = Trial.PAUSED
    assert scheduler.pop_trials_to_stop() == []
    assert scheduler.on_trial_result(loser_band[-1], {"training_iteration": 3, "q": -1}) is Decision.STOP
    assert scheduler.pop_trials_to_stop() == loser_band[:2]  # ceil(5 / 3) = 2 go on: q=3 and q=2
    assert scheduler.choose_trial_to_run([loser_band[3], loser_band[2], *trials[1:]]) is loser_band[2]


def test_stop_last_trials_false_lets_the_last_stage_run_on():
    sim = _run(stop_last_trials=False, max_iterations=12)
    assert [sim.iterations()[t.trial_id] for t in sim.trials] == [12 if r == 9 else r for r in EXPECTED_REACHED]


def test_results_without_keys_continue_once_both_were_seen():
    scheduler = HyperBandScheduler(metric="q", mode="max")
    trial = Trial("f", trial_id="t", config={})
    scheduler.on_trial_add(trial)
    assert scheduler.on_trial_result(trial, {"training_iteration": 1, "q": 1}) is Decision.CONTINUE
    assert scheduler.on_trial_result(trial, {"q": 1}) is Decision.CONTINUE
    other = HyperBandScheduler(time_attr="epoch", metric="q", mode="max")
    other.on_trial_add(trial)
    with pytest.raises(TuneError, match="HyperBandScheduler needs time_attr 'epoch' in the results"):
        other.on_trial_result(trial, {"training_iteration": 1, "q": 1})


def test_a_trial_that_ends_early_does_not_block_its_bracket():
    scheduler = HyperBandScheduler(metric="q", mode="max", max_t=9)
    trials = [Trial("f", trial_id=f"t{i}", config={}) for i in range(8)]
    for trial in trials:
        scheduler.on_trial_add(trial)
        trial.status = Trial.RUNNING
    bracket_s1 = trials[3:8]  # milestone 3, keep ceil(5 / 3) = 2
    for i, trial in enumerate(bracket_s1[:-1]):
        assert scheduler.on_trial_result(trial, {"training_iteration": 3, "q": i}) is Decision.PAUSE
        trial.status = Trial.PAUSED
    bracket_s1[-1].status = Trial.ERROR
    scheduler.on_trial_error(bracket_s1[-1])  # the last one fails: the others are all there now
    assert scheduler.choose_trial_to_run(bracket_s1[:-1]) is bracket_s1[2]
    assert scheduler.pop_trials_to_stop() == bracket_s1[:2]


def test_bohb_pauses_until_a_bracket_is_full_then_forces_progress():
    sim = _run(HyperBandForBOHB, [1, 4, 2, 3], slots=4)
    # 4 trials in the 9-trial bracket s=2: every arrival pauses; when nothing runs any more
    # the bracket is halved anyway and the best goes on.
    assert [sim.iterations()[t.trial_id] for t in sim.trials] == [1, 9, 1, 1]
    assert sim.decisions(sim.trials[3].trial_id) == [Decision.PAUSE]
    assert not sim.stranded()


def test_bohb_fills_the_largest_bracket_first_and_reports_the_budget():
    scheduler = HyperBandForBOHB(metric="q", mode="max", max_t=9)
    trials = [Trial("f", trial_id=f"t{i}", config={}) for i in range(9)]
    for trial in trials:
        scheduler.on_trial_add(trial)
        trial.status = Trial.RUNNING
    result = {"training_iteration": 1, "q": 0.5}
    assert scheduler.on_trial_result(trials[0], result) is Decision.PAUSE
    assert result["hyperband_info/budget"] == 1


def test_save_and_restore_keep_the_brackets(tmp_path):
    reference = _run(slots=3)
    sim = Simulator(
        HyperBandScheduler(max_t=9, reduction_factor=3),
        lambda config, t: config["q"] * t,
        [{"q": q} for q in QUALITIES],
        num_slots=3,
        max_iterations=20,
    ).run(until_tick=10)
    sim.save_and_restore(HyperBandScheduler(max_t=9, reduction_factor=3), str(tmp_path / "hb.pkl"))
    assert sim.run().outcome() == reference.outcome()


def test_restore_refuses_another_schedulers_state(tmp_path):
    path = str(tmp_path / "state")
    HyperBandScheduler().save(path)
    with pytest.raises(ValueError, match="written by 'HyperBandScheduler'"):
        HyperBandForBOHB().restore(path)


def test_debug_string():
    text = _run().scheduler.debug_string()
    assert text.startswith("Using HyperBand: num_stopped=11 total_brackets=3\nRound #0:\n  Bracket(Max Size (n)=3, Milestone (r)=9, completed=100.0%): {TERMINATED: 3}")
    assert "Bracket(Max Size (n)=1, Milestone (r)=9" in text
    assert "Bracket(s=2, stage=2, milestone=9" in _run(HyperBandForBOHB).scheduler.debug_string()


@pytest.mark.parametrize("cls", [HyperBandScheduler, HyperBandForBOHB])
def test_contract(cls, tmp_path):
    check_scheduler(lambda: cls(max_t=9, reduction_factor=3), tmp_path)
