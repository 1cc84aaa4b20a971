import pytest

from tunesmith import PlacementGroupFactory
from tunesmith.experiment import Trial
from tunesmith.schedulers import ASHAScheduler, Decision, FIFOScheduler, HyperBandScheduler, ResourceChangingScheduler
from tunesmith.schedulers.resource_changing_scheduler import (
    AllocationContext,
    DistributeResources,
    DistributeResourcesToTopJob,
    as_resource_dict,
    grow_resources,
)
from tunesmith.testing import Simulator, check_scheduler


@pytest.mark.parametrize(
    ("base", "current", "free", "upper", "options", "expected"),
    [
        ({"cpu": 1}, {"cpu": 1}, {"cpu": 3}, {"cpu": 2}, {}, {"cpu": 2, "gpu": 0}),  # capped by upper
        ({"cpu": 1}, {"cpu": 1}, {"cpu": 1}, {"cpu": 4}, {}, {"cpu": 2, "gpu": 0}),  # capped by free
        ({"cpu": 1}, {"cpu": 3}, {"cpu": -1}, {"cpu": 4}, {}, {"cpu": 2, "gpu": 0}),  # oversubscribed: shrink
        ({"cpu": 2}, {"cpu": 2}, {"cpu": -5}, {"cpu": 4}, {}, {"cpu": 2, "gpu": 0}),  # never below base
        ({"cpu": 1, "gpu": 1}, {"cpu": 1, "gpu": 1}, {"cpu": 2, "gpu": 1}, {"cpu": 3, "gpu": 2}, {}, {"cpu": 3, "gpu": 2}),
        ({"cpu": 1}, {"cpu": 1, "memory": 5}, {"cpu": 1, "gpu": 4}, {"cpu": 4, "gpu": 4}, {}, {"cpu": 2, "gpu": 0, "memory": 5}),
        ({"cpu": 2}, {"cpu": 2}, {"cpu": 3}, {"cpu": 8}, {"add_bundles": True}, {"cpu": 4, "gpu": 0}),  # whole bases
        ({"cpu": 1}, {"cpu": 1}, {"cpu": 7}, {"cpu": 8}, {"increase_by": {"cpu": 3}}, {"cpu": 7, "gpu": 0}),
        ({"cpu": 1}, {"cpu": 1}, {"cpu": 7}, {"cpu": 8}, {"increase_by": {"cpu": 3}, "increase_by_times": 1}, {"cpu": 4, "gpu": 0}),
        (
            {"cpu": 1, "gpu": 0},
            {"cpu": 1, "gpu": 0},
            {"cpu": 7, "gpu": 1},
            {"cpu": 8, "gpu": 2},
            {"increase_by": {"cpu": 2, "gpu": 1}},
            {"cpu": 3, "gpu": 1},  # the GPU limits the multiplier
        ),
    ],
)
def test_grow_resources(base, current, free, upper, options, expected):
    assert grow_resources(base, current, free, upper, **options) == expected


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        ({"CPU": 2, "GPU": 1}, {"cpu": 2.0, "gpu": 1.0}),
        ({"cpu": 1, "custom": 3}, {"cpu": 1.0, "custom": 3.0}),
        (PlacementGroupFactory([{"CPU": 1, "GPU": 0.5}, {"CPU": 2}]), {"cpu": 3.0, "gpu": 0.5}),
    ],
)
def test_resource_requests_become_dicts(request_, expected):
    assert as_resource_dict(request_) == expected


def test_a_resource_request_must_be_a_dict():
    with pytest.raises(TypeError, match="a resource request must be a dict"):
        as_resource_dict(3)


def _run(allocation=None, *, base=None, qualities=(1, 2), total=8, slots=8, metric_mode=("score", "max"), **kwargs):
    scheduler = ResourceChangingScheduler(base, allocation or DistributeResources())
    sim = Simulator(
        scheduler,
        lambda config, t: config["q"] * t,
        [{"q": q} for q in qualities],
        metric=metric_mode[0],
        mode=metric_mode[1],
        num_slots=slots,
        total_resources={"cpu": total},
        max_iterations=5,
        **kwargs,
    )
    return sim.run()


def test_free_cpus_are_shared_evenly_through_a_pause():
    sim = _run()
    assert [sim.decisions(t.trial_id)[0] for t in sim.trials] == [Decision.PAUSE, Decision.PAUSE]
    restarts = [(launch.trial_id, launch.iteration, launch.resources["cpu"]) for launch in sim.launches][2:4]
    assert restarts == [("sim_00000", 1, 4.0), ("sim_00001", 1, 4.0)]  # from the checkpoint, with half each
    assert all(t.status == "TERMINATED" for t in sim.trials)


def test_waiting_trials_keep_their_share():
    sim = _run(qualities=(1, 2, 3, 4, 5, 6), total=4, slots=2)
    first_end = min(e.tick for e in sim.events if e.iteration == 5)
    assert {launch.resources["cpu"] for launch in sim.launches if launch.tick < first_end} == {1.0}
    assert not sim.stranded()


def test_the_last_live_trial_gets_everything():
    sim = _run(qualities=(1, 2), total=6, slots=1)
    by_trial = {}
    for launch in sim.launches:
        by_trial.setdefault(launch.trial_id, []).append(launch.resources["cpu"])
    assert by_trial == {"sim_00000": [1.0, 3.0], "sim_00001": [1.0, 6.0]}  # half while the other waits


def test_reserve_and_increase_by():
    sim = _run(DistributeResources(reserve_resources={"CPU": 2}), qualities=(1,))
    assert sim.trials[0].resources["cpu"] == 6.0
    sim = _run(DistributeResources(increase_by={"cpu": 2}, increase_by_times=2), qualities=(1,))
    assert sim.trials[0].resources["cpu"] == 5.0


def _top_job_call(allocation, scores, trial_index, *, mode="max", resources=(1, 1, 1)):
    scheduler = ResourceChangingScheduler(FIFOScheduler(), allocation)
    scheduler.set_search_properties("score", mode)
    trials = [Trial("f", trial_id=str(i), config={}, resources={"cpu": 1}) for i in range(len(scores))]
    for trial, score, cpus in zip(trials, scores, resources):
        scheduler.on_trial_add(trial)
        trial.resources = {"cpu": float(cpus)}
        trial.status = Trial.RUNNING
        trial.last_result = {"score": score, "training_iteration": 1}
    context = AllocationContext({"cpu": 8}, tuple(trials))
    trial = trials[trial_index]
    return allocation(context, trial, {"score": scores[trial_index], "training_iteration": 1}, scheduler)


@pytest.mark.parametrize(
    ("scores", "index", "mode", "resources", "cpus"),
    [
        ([1, 3, 2], 1, "max", (1, 1, 1), 6.0),  # the best takes all that is free
        ([1, 3, 2], 0, "max", (1, 1, 1), 1.0),  # the others keep what they have
        ([1, 3, 2], 0, "min", (1, 1, 1), 6.0),  # mode from the scheduler
        ([1, 3, 2], 0, "max", (4, 4, 1), 3.0),  # not the best and oversubscribed: gives back
        ([1, 3, 2], 1, "max", (4, 3, 1), 3.0),  # the best, but nothing is free
    ],
)
def test_top_job(scores, index, mode, resources, cpus):
    new = _top_job_call(DistributeResourcesToTopJob(), scores, index, mode=mode, resources=resources)
    assert new["cpu"] == cpus


def test_top_job_on_the_simulator():
    sim = _run(DistributeResourcesToTopJob(metric="score", mode="max"), qualities=(1, 3, 2))
    assert sim.launches[3].trial_id == "sim_00000" and sim.launches[3].resources["cpu"] == 6.0  # the first to report
    assert not sim.stranded()


def test_top_job_needs_a_metric():
    scheduler = ResourceChangingScheduler(FIFOScheduler(), DistributeResourcesToTopJob())
    scheduler.set_total_resources({"cpu": 4})
    trial = Trial("f", trial_id="t", config={})
    scheduler.on_trial_add(trial)
    with pytest.raises(ValueError, match="DistributeResourcesToTopJob needs a metric and a mode"):
        scheduler.on_trial_result(trial, {"training_iteration": 1})


def test_top_job_mode_is_validated():
    with pytest.raises(ValueError, match="mode must be 'min' or 'max', got 'top'"):
        DistributeResourcesToTopJob(mode="top")


def test_base_scheduler_decides_first():
    sim = _run(base=ASHAScheduler(max_t=2, grace_period=1, reduction_factor=2, seed=0), qualities=(2, 1))
    # ASHA stops trial 1 at its first rung: its resources are never changed
    assert sim.decisions("sim_00001") == [Decision.STOP]
    assert sim.trials[1].resources == {"cpu": 1.0}


def test_wrapping_hyperband_forwards_its_stops():
    qualities = [3, 1, 2, 5, 9, 1, 7, 3]  # brackets s=0 (3 trials) and s=1 (5 trials, milestone 3)
    sim = _run(DistributeResources(), base=HyperBandScheduler(max_t=9, reduction_factor=3), qualities=qualities, total=8, slots=8)
    assert not sim.stranded()
    assert all(t.status == "TERMINATED" for t in sim.trials)


def test_custom_function_sees_context_not_controller():
    seen = {}

    def allocate(context, trial, result, scheduler):
        seen["context"] = context
        seen["live"] = [t.trial_id for t in context.get_live_trials()]
        return {"CPU": 2} if result["training_iteration"] == 2 else None

    sim = _run(allocate, qualities=(1,))
    assert isinstance(seen["context"], AllocationContext)
    assert seen["context"].total_resources == {"cpu": 8.0}
    assert seen["live"] == ["sim_00000"]
    assert sim.trials[0].resources == {"cpu": 2.0}
    assert sim.decisions("sim_00000")[:3] == [Decision.CONTINUE, Decision.PAUSE, Decision.CONTINUE]


def test_trials_must_share_the_base_resources():
    scheduler = ResourceChangingScheduler()
    scheduler.on_trial_add(Trial("f", trial_id="a", config={}, resources={"cpu": 1}))
    with pytest.raises(RuntimeError, match="every trial to start with the same resources"):
        scheduler.on_trial_add(Trial("f", trial_id="b", config={}, resources={"cpu": 2}))


def test_no_allocation_function_warns_and_changes_nothing():
    with pytest.warns(UserWarning, match="resources_allocation_function is None"):
        scheduler = ResourceChangingScheduler(resources_allocation_function=None)
    trial = Trial("f", trial_id="t", config={})
    scheduler.on_trial_add(trial)
    assert scheduler.on_trial_result(trial, {"training_iteration": 1}) is Decision.CONTINUE


def test_unknown_totals_warn_once_and_change_nothing():
    scheduler = ResourceChangingScheduler()
    trial = Trial("f", trial_id="t", config={})
    scheduler.on_trial_add(trial)
    with pytest.warns(UserWarning, match="total resources are unknown"):
        assert scheduler.on_trial_result(trial, {"training_iteration": 1}) is Decision.CONTINUE
    assert trial.resources == {"cpu": 1.0}


def test_totals_come_through_set_search_properties():
    scheduler = ResourceChangingScheduler(ASHAScheduler())
    assert scheduler.set_search_properties("loss", "min", total_resources={"CPU": 4}, experiment_dir="/x")
    assert scheduler.metric == "loss" and scheduler.mode == "min"
    trial = Trial("f", trial_id="t", config={})
    scheduler.on_trial_add(trial)
    assert scheduler.on_trial_result(trial, {"training_iteration": 1, "loss": 1.0}) is Decision.PAUSE
    assert trial.resources["cpu"] == 4.0


def test_debug_string_and_buffering_follow_the_base():
    scheduler = ResourceChangingScheduler(HyperBandScheduler())
    assert scheduler.debug_string().startswith("(ResourceChangingScheduler) Using HyperBand")
    assert scheduler.supports_buffered_results is False


@pytest.mark.parametrize(
    "make",
    [
        lambda: ResourceChangingScheduler(),
        lambda: ResourceChangingScheduler(ASHAScheduler(max_t=12, grace_period=1, reduction_factor=2, seed=0)),
        lambda: ResourceChangingScheduler(HyperBandScheduler(max_t=9), DistributeResourcesToTopJob()),
    ],
)
def test_contract(make, tmp_path):
    check_scheduler(make, tmp_path)
