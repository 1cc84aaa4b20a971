"""The scheduling core on its own: real schedulers and trials, no processes, no controller."""

import pytest

from tunesmith.error import TuneError
from tunesmith.execution._scheduling import SchedulingCore
from tunesmith.experiment._trial import Trial, TrialStatus
from tunesmith.schedulers import Decision, FIFOScheduler, TrialScheduler
from tunesmith.testing import Simulator


def _trials(n):
    return [Trial("t", trial_id=f"t{i}", config={"i": i}) for i in range(n)]


class _Recorder(FIFOScheduler):
    """FIFO that records its hooks and stops the trials listed in ``to_stop`` at the next hook."""

    def __init__(self):
        self.calls = []
        self.to_stop = []

    def on_trial_add(self, trial):
        self.calls.append(("add", trial.trial_id))

    def on_trial_complete(self, trial, result):
        self.calls.append(("complete", trial.trial_id))

    def on_trial_error(self, trial):
        self.calls.append(("error", trial.trial_id))

    def pop_trials_to_stop(self):
        stop, self.to_stop = self.to_stop, []
        return stop


class _HoldBack(FIFOScheduler):
    def choose_trial_to_run(self, trials):
        return None


class _Stranger(FIFOScheduler):
    def __init__(self, other):
        self.other = other

    def choose_trial_to_run(self, trials):
        return self.other


def _core(scheduler, n=3):
    ended = []
    core = SchedulingCore(scheduler, lambda trial: (ended.append(trial.trial_id), core.complete(trial, {})))
    trials = _trials(n)
    for trial in trials:
        core.add(trial)
    return core, trials, ended


def test_oldest_waiting_starts_first_and_leaves_the_waiting():
    core, trials, _ = _core(FIFOScheduler())
    chosen = core.next_to_start(idle=True, search_finished=False)
    assert chosen is trials[0]
    assert core.started(chosen) is False
    assert chosen.status is TrialStatus.RUNNING
    assert core.waiting == trials[1:]


def test_a_paused_trial_goes_back_to_its_place_and_a_retry_goes_first():
    core, trials, _ = _core(FIFOScheduler())
    for trial in trials[:2]:
        core.started(trial)
    core.paused(trials[0])
    assert [t.trial_id for t in core.waiting] == ["t0", "t2"]
    assert core.started(trials[0]) is True  # it was paused
    core.retry(trials[1])
    assert [t.trial_id for t in core.waiting] == ["t1", "t2"]
    assert trials[1].status is TrialStatus.PENDING


@pytest.mark.parametrize(
    ("idle", "search_finished", "paused_first", "expected"),
    [
        (True, True, False, "t0"),
        (True, False, False, "t0"),  # a PENDING trial waits first: the controller creates no other
        (True, True, True, "t0"),
        (True, False, True, None),  # a new trial may still come, and the scheduler may take it
        (False, True, False, None),
        (False, False, False, None),
    ],
)
def test_the_oldest_is_forced_only_when_nothing_runs_and_nothing_new_comes(idle, search_finished, paused_first, expected):
    core, trials, _ = _core(_HoldBack())
    if paused_first:
        core.started(trials[0])
        core.paused(trials[0])
    chosen = core.next_to_start(idle=idle, search_finished=search_finished)
    assert (chosen.trial_id if chosen else None) == expected
    assert [t.trial_id for t in core.forced] == ([expected] if expected else [])


def test_trials_the_scheduler_stops_leave_the_waiting_and_are_ended_once():
    scheduler = _Recorder()
    core, trials, ended = _core(scheduler)
    core.started(trials[0])
    scheduler.to_stop = [trials[0], trials[1]]
    assert core.decide(trials[0], {"training_iteration": 1}) is Decision.CONTINUE
    assert ended == ["t0", "t1"]
    assert [t.trial_id for t in core.waiting] == ["t2"]
    assert trials[1].status is TrialStatus.TERMINATED
    scheduler.to_stop = [trials[1]]  # already finished: not ended twice
    core.drain_stops()
    assert ended == ["t0", "t1"]


def test_a_trial_stopped_while_chosen_is_skipped():
    scheduler = _Recorder()
    core, trials, ended = _core(scheduler)
    scheduler.to_stop = [trials[0]]  # dropped by the drain that follows choose_trial_to_run
    assert core.next_to_start(idle=True, search_finished=False) is trials[1]
    assert ended == ["t0"]


def test_hooks_are_called_in_order_and_set_the_status():
    scheduler = _Recorder()
    core, trials, _ = _core(scheduler, n=2)
    core.complete(trials[0], {})
    core.errored(trials[1])
    assert scheduler.calls == [("add", "t0"), ("add", "t1"), ("complete", "t0"), ("error", "t1")]
    assert [t.status for t in trials] == [TrialStatus.TERMINATED, TrialStatus.ERROR]


@pytest.mark.parametrize("returned", ["stop", "PAUSE", Decision.CONTINUE])
def test_decisions_are_normalised(returned):
    class Says(TrialScheduler):
        def on_trial_result(self, trial, result):
            return returned

    core, trials, _ = _core(Says(), n=1)
    assert core.decide(trials[0], {}) is Decision(str(getattr(returned, "value", returned)).upper())


def test_a_chosen_trial_that_was_not_waiting_is_refused():
    outsider = Trial("t", trial_id="outsider", config={})
    outsider.status = TrialStatus.RUNNING
    core, _, _ = _core(_Stranger(outsider))
    with pytest.raises(TuneError, match="is not one of the PENDING/PAUSED trials it was given"):
        core.next_to_start(idle=True, search_finished=True)


def test_an_exploit_checkpoint_is_used_once():
    core, trials, _ = _core(FIFOScheduler(), n=1)
    trials[0].restore_checkpoint = "elsewhere"
    assert core.take_exploit(trials[0]) == "elsewhere"
    assert core.take_exploit(trials[0]) is None


def test_the_simulator_starts_a_held_back_trial_as_the_controller_does():
    sim = Simulator(_HoldBack(), curve=lambda config, t: t, configs=[{}, {}], max_iterations=2, num_slots=2).run()
    assert all(t.status is TrialStatus.TERMINATED for t in sim.trials)
    assert [(launch.trial_id, launch.forced) for launch in sim.launches] == [("sim_00000", True), ("sim_00001", True)]
    assert [t.trial_id for t in sim.stranded()] == ["sim_00000", "sim_00001"]


def _trivial(config):
    import tunesmith as tune

    tune.report({"score": 1.0})


def _fit(scheduler, tmp_path):
    import tunesmith as tune

    return tune.Tuner(
        _trivial,
        tune_config=tune.TuneConfig(scheduler=scheduler, num_samples=2),
        run_config=tune.RunConfig(storage_path=str(tmp_path), name="exp", verbose=0),
    ).fit()


def test_the_controller_runs_trials_a_scheduler_holds_back(tmp_path):
    results = _fit(_HoldBack(), tmp_path)
    assert [r.metrics["score"] for r in results] == [1.0, 1.0]


def test_the_controller_refuses_a_chosen_trial_that_is_not_waiting(tmp_path):
    outsider = Trial("t", trial_id="outsider", config={})
    outsider.status = TrialStatus.RUNNING
    with pytest.raises(TuneError, match="_Stranger.choose_trial_to_run returned trial t_outsider, which is not one of the PENDING/PAUSED"):
        _fit(_Stranger(outsider), tmp_path)
