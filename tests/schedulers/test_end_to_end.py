"""Every scheduler through the real ``Tuner(...).fit()``: local worker processes, real
checkpoints, real pauses. The learning curves are deterministic, so the survivors are known.

The trainables keep their own step counter (and a running ``value``) in their checkpoints
and report it next to the auto-filled ``training_iteration``: a trial resumed from the wrong
checkpoint, or from none, shows up as a mismatch.
"""

import json
import os
import subprocess
import sys
import textwrap
import time

import pytest

import tunesmith as tune
from tunesmith.error import TuneError
from tunesmith.schedulers import (
    ASHAScheduler,
    HyperBandForBOHB,
    HyperBandScheduler,
    MedianStoppingRule,
    PopulationBasedTraining,
    PopulationBasedTrainingReplay,
    ResourceChangingScheduler,
)
from tunesmith.schedulers._pbt_replay import pbt_policy_schedule
from tunesmith.schedulers.resource_changing_scheduler import DistributeResources

from ._scheduler_trainables import (
    accumulate,
    accumulate_sparse_checkpoints,
    accumulate_crashing_after_exploit,
    accumulate_waiting_after_exploit,
    grow,
    linear,
    slow_to_stop,
)


def _rows(result):
    with open(os.path.join(result.path, "result.json")) as f:
        return [json.loads(line) for line in f]


def _fit(trainable, param_space, tmp_path, **tune_config):
    tuner = tune.Tuner(
        trainable,
        param_space=param_space,
        tune_config=tune.TuneConfig(**tune_config),
        run_config=tune.RunConfig(storage_path=str(tmp_path), name="exp", verbose=0),
    )
    return tuner.fit()


def _by_q(results):
    return {r.config["q"]: r for r in results}


# -- ASHA -------------------------------------------------------------------------------------


def test_asha_stops_the_bad_trials_at_the_rungs(tmp_path):
    # One trial at a time, so each meets the rungs as the ones before it left them.
    # Rungs 1, 3, 9 (rf 3): a trial goes on if it is in the top third of its rung so far.
    qualities = [5, 1, 4, 2, 6, 0.5]
    results = _fit(
        linear,
        {"q": tune.grid_search(qualities)},
        tmp_path,
        metric="score",
        mode="max",
        max_concurrent_trials=1,
        scheduler=ASHAScheduler(max_t=9, grace_period=1, reduction_factor=3),
    )
    reached = {r.config["q"]: r.metrics["training_iteration"] for r in results}
    assert reached == {5: 9, 1: 1, 4: 3, 2: 1, 6: 9, 0.5: 1}
    assert results.num_terminated == len(qualities) and results.num_errors == 0
    for result in results:
        assert [row["training_iteration"] for row in _rows(result)] == list(range(1, reached[result.config["q"]] + 1))
    assert results.get_best_result().config["q"] == 6


# -- synchronous HyperBand ---------------------------------------------------------------------

# max_t=9, rf=3 (as Ray Tune): brackets s=0 (3 trials to 9), s=1 (5 trials, milestone 3, keep
# ceil(5/3) = 2) and s=2 (9 trials: milestone 1 keep 3, milestone 3 keep 1), filled in that order.
HB_9 = ([1, 2, 3] + [5, 1, 4, 2, 3] + [9, 1, 8, 2, 7, 3, 6, 4, 5], [9, 9, 9] + [9, 3, 9, 3, 3] + [9, 1, 3, 1, 3, 1, 1, 1, 1])
# max_t=3, rf=3: brackets s=0 (2 trials to 3) and s=1 (3 trials, milestone 1, keep 1).
HB_3 = ([1, 2] + [3, 1, 2], [3, 3] + [3, 1, 1])
# max_t=4, rf=2 (issue 14): s=0 (3 trials to 4), s=1 (3 trials, milestone 2, keep ceil(3/2) = 2).
HB_4 = ([3, 1, 2] + [5, 9, 1], [4, 4, 4] + [4, 4, 2])


def _journal(results):
    with open(os.path.join(results.experiment_path, "journal.jsonl")) as f:
        return [json.loads(line) for line in f]


@pytest.mark.parametrize(("reuse_actors", "max_t", "plan", "rf"), [(True, 9, HB_9, 3), (False, 3, HB_3, 3), (True, 4, HB_4, 2)])
def test_hyperband_pauses_at_milestones_and_resumes_the_best_from_checkpoints(tmp_path, reuse_actors, max_t, plan, rf):
    qualities, expected = plan
    tune.init(num_cpus=2)  # the same on every machine: two trials at a time
    results = _fit(
        linear,
        {"q": tune.grid_search(qualities), "steps": max_t},
        tmp_path,
        metric="score",
        mode="max",
        reuse_actors=reuse_actors,
        scheduler=HyperBandScheduler(max_t=max_t, reduction_factor=rf),
    )
    assert results.num_errors == 0 and results.num_terminated == len(qualities)
    assert [r.metrics["training_iteration"] for r in results] == expected
    pids = set()
    for result, reached in zip(results, expected):
        rows = _rows(result)
        # across every pause: no training_iteration repeated or skipped, and the trial's own
        # counter (restored from its checkpoint) agrees
        assert [row["training_iteration"] for row in rows] == list(range(1, reached + 1))
        assert [row["step"] for row in rows] == list(range(1, reached + 1))
        assert result.metrics["score"] == result.config["q"] * reached  # Result.metrics: the last result
        assert result.checkpoint is not None and result.checkpoint.path.endswith(f"checkpoint_{reached - 1:06d}")
        pids |= {row["pid"] for row in rows}
    journal = _journal(results)
    paused = [e["trial_id"] for e in journal if e["event"] == "trial_paused"]
    winner = max(results, key=lambda r: r.config["q"])  # paused at each milestone, then resumed
    assert winner.metrics["trial_id"] in paused
    if reuse_actors:
        assert len(pids) <= 3 < len(paused)  # paused trials' processes went on to run other attempts
    else:
        first, resumed = [row["pid"] for row in _rows(winner)][:2]
        assert first != resumed  # resumed in a fresh process


def test_a_paused_trial_stopped_before_its_process_ended_stays_stopped(tmp_path):
    # Bracket s=1 of max_t=3: three trials reach milestone 1 together; the first two pause
    # and take a second to end, and the third halves the bracket meanwhile, stopping the
    # paused losers. They must not be resumed when their processes end.
    tune.init(num_cpus=5)
    results = _fit(
        slow_to_stop,
        {"q": tune.grid_search([1, 2] + [3, 1, 2]), "steps": 3, "linger": 1.0,
         "barrier": str(tmp_path / "barrier"), "population": 5},
        tmp_path,
        metric="score",
        mode="max",
        reuse_actors=True,
        scheduler=HyperBandScheduler(max_t=3, reduction_factor=3),
    )
    assert [r.metrics["training_iteration"] for r in results] == [3, 3, 3, 1, 1]
    assert results.num_terminated == 5


def test_hyperband_without_checkpoints_warns_at_the_first_pause(tmp_path, caplog):
    def no_checkpoints(config):
        for step in range(1, 10):
            tune.report({"score": config["q"] * step})

    results = _fit(
        no_checkpoints,
        {"q": tune.grid_search([1, 2, 3, 5, 4])},
        tmp_path,
        metric="score",
        mode="max",
        scheduler=HyperBandScheduler(max_t=3, reduction_factor=3),
    )
    assert results.num_errors == 0
    warned = [r for r in caplog.records if "which has reported no checkpoint, so it will start over from scratch" in r.getMessage()]
    assert len(warned) == 1 and warned[0].levelname == "WARNING"


# -- median stopping rule ----------------------------------------------------------------------


def test_median_stopping_rule_stops_trials_below_the_median(tmp_path):
    results = _fit(
        linear,
        {"q": tune.grid_search([3, 2, 4, 1, 0.5, 5])},
        tmp_path,
        metric="score",
        mode="max",
        max_concurrent_trials=1,
        scheduler=MedianStoppingRule(time_attr="training_iteration", grace_period=2, min_samples_required=2),
    )
    reached = {r.config["q"]: r.metrics["training_iteration"] for r in results}
    # from the third trial on, two finished trials give a median of running means at step 2
    assert reached == {3: 9, 2: 9, 4: 9, 1: 2, 0.5: 2, 5: 9}
    assert results.num_terminated == 6


# -- PBT ---------------------------------------------------------------------------------------


def _changes(rows):
    """Indexes of the rows whose config differs from the row before."""
    return [i for i in range(1, len(rows)) if rows[i]["config"] != rows[i - 1]["config"]]


@pytest.fixture
def four_cpus():
    tune.init(num_cpus=4)
    yield
    tune.shutdown()


def _pbt_fit(path, scheduler, **param_space):
    space = {"lr": tune.grid_search([0.1, 1.0, 2.0, 3.0]), **param_space}
    return _fit(accumulate, space, path, metric="value", mode="max", reuse_actors=True, scheduler=scheduler)


def _pbt(**options):
    return PopulationBasedTraining(
        time_attr="training_iteration",
        perturbation_interval=4,
        hyperparam_mutations={"lr": tune.uniform(0.01, 4.0)},
        seed=0,
        **options,
    )


@pytest.fixture(scope="module")
def synch_pbt(tmp_path_factory):
    """One synchronous PBT run, shared: the population meets at steps 4 and 8 (and 12)."""
    path = tmp_path_factory.mktemp("pbt")
    tune.init(num_cpus=4)
    try:
        pbt = _pbt(synch=True)
        return pbt, _pbt_fit(path, pbt)
    finally:
        tune.shutdown()


def test_pbt_exploits_the_donor_state_and_explores_its_config(synch_pbt):
    pbt, results = synch_pbt
    assert results.num_errors == 0 and results.num_terminated == 4
    records = pbt.policy_records()
    # at each meeting the worst trial copies the best (the quantiles are 1 of 4)
    assert [(r["time"], r["trial_tag"], r["donor_tag"]) for r in records[:2]] == [
        (4, "0_lr=0.1000", "3_lr=3.0000"),
        (8, "1_lr=1.0000", "3_lr=3.0000"),
    ]
    by_id = {r.metrics["trial_id"]: r for r in results}
    checked = 0
    for record in records:
        rows = _rows(by_id[record["trial_id"]])
        after = [i for i in _changes(rows) if rows[i]["config"] == record["new_config"]]
        if not after:
            continue  # exploited at its last step: restarted from the donor's final checkpoint, nothing left to run
        first = rows[after[0]]
        donor_rows = [r for r in _rows(by_id[record["donor_id"]]) if r["training_iteration"] == record["donor_iteration"]]
        at_meeting = [r for r in _rows(by_id[record["donor_id"]]) if r["training_iteration"] == record["time"]]
        # the trial continues from the donor's checkpoint (its step and value) ...
        assert first["restored_owner"] == record["donor_id"]
        assert first["restored_step"] == record["donor_iteration"]
        assert first["value"] == pytest.approx(donor_rows[-1]["value"] + record["new_config"]["lr"])
        # ... and, as in Ray Tune, counts on from the donor's iteration and time at the meeting
        # (the donor's checkpoint may be a step older when it was the last to arrive)
        assert first["training_iteration"] == record["time"] + 1
        assert first["time_total_s"] == pytest.approx(at_meeting[-1]["time_total_s"] + first["time_this_iter_s"])
        # the config changed mid-training: explored from the donor's
        assert rows[after[0] - 1]["config"] != record["new_config"]
        assert record["old_config"] == donor_rows[-1]["config"]
        assert record["new_config"]["lr"] != record["old_config"]["lr"]
        checked += 1
    assert checked >= 2
    # each perturbation is recorded in the experiment folder
    folder = results.experiment_path
    with open(os.path.join(folder, "pbt_global.txt")) as f:
        lines = [json.loads(line) for line in f]
    assert [line[:4] for line in lines] == [[r["trial_tag"], r["donor_tag"], r["trial_iteration"], r["donor_iteration"]] for r in records]
    for record in records:
        assert os.path.exists(os.path.join(folder, f"pbt_policy_{record['trial_id']}.txt"))


def test_a_retry_after_an_exploit_starts_again_from_the_donors_checkpoint(tmp_path, four_cpus):
    """The attempt that took a donor's checkpoint crashes before saving its own: the retry
    must start from the donor's checkpoint again, not from the trial's own older one
    (which would pair its old weights with the explored config)."""
    pbt = _pbt(synch=True)
    space = {"lr": tune.grid_search([0.1, 1.0, 2.0, 3.0]), "crashed": str(tmp_path / "crashed")}
    tuner = tune.Tuner(
        accumulate_crashing_after_exploit, param_space=space,
        tune_config=tune.TuneConfig(metric="value", mode="max", scheduler=pbt, reuse_actors=True),
        run_config=tune.RunConfig(storage_path=str(tmp_path), name="exp", verbose=0,
                                  failure_config=tune.FailureConfig(max_failures=1)),
    )
    results = tuner.fit()
    assert results.num_errors == 0 and (tmp_path / "crashed").exists()
    record = pbt.policy_records()[0]
    rows = _rows({r.metrics["trial_id"]: r for r in results}[record["trial_id"]])
    first = next(row for row in rows if row["config"] == record["new_config"])
    assert first["restored_owner"] == record["donor_id"]
    assert first["restored_step"] == record["donor_iteration"]
    assert [row["training_iteration"] for row in rows] == list(range(1, len(rows) + 1))  # none twice


@pytest.mark.slow
def test_an_exploited_trial_counts_on_from_the_donor_and_its_checkpoint_is_kept_until_loaded(tmp_path, four_cpus):
    """Donors checkpoint every 3 steps and keep one (num_to_keep=1); PBT meets every 4 steps.
    The exploiting attempt loads the donor's checkpoint 1.5 s late, after the donor saved a
    newer one: the borrowed checkpoint must still be there. Its history goes on from the
    donor's iteration at the exploit (as in Ray Tune), instead of repeating iterations."""
    pbt = _pbt(synch=True)
    space = {"lr": tune.grid_search([0.1, 1.0, 2.0, 3.0]), "every": 3, "load_delay": 1.5}
    tuner = tune.Tuner(
        accumulate_sparse_checkpoints, param_space=space,
        tune_config=tune.TuneConfig(metric="value", mode="max", scheduler=pbt),
        run_config=tune.RunConfig(storage_path=str(tmp_path), name="exp", verbose=0,
                                  checkpoint_config=tune.CheckpointConfig(num_to_keep=1)),
    )
    results = tuner.fit()
    assert results.errors == [] and results.num_terminated == 4
    by_id = {r.metrics["trial_id"]: r for r in results}
    for result in results:
        iterations = [row["training_iteration"] for row in _rows(result)]
        assert iterations == sorted(set(iterations)), iterations  # no iteration twice
    record = pbt.policy_records()[0]
    rows = _rows(by_id[record["trial_id"]])
    first = next(row for row in rows if row["config"] == record["new_config"])
    assert first["restored_owner"] == record["donor_id"] and first["restored_step"] == 3
    assert first["training_iteration"] == record["time"] + 1  # the donor's iteration at the exploit, + 1
    # the borrowed checkpoint was deleted once the trial had saved its own (num_to_keep=1 holds again)
    for result in results:
        assert len([d for d in os.listdir(result.path) if d.startswith("checkpoint_")]) == 1


PBT_DRIVER = textwrap.dedent("""
    import sys
    sys.path.insert(0, sys.argv[2])
    import tunesmith as tune
    from tunesmith.schedulers import PopulationBasedTraining
    from schedulers._scheduler_trainables import accumulate_waiting_after_exploit

    tune.init(num_cpus=4)
    pbt = PopulationBasedTraining(time_attr="training_iteration", perturbation_interval=4, synch=True, seed=0,
                                  hyperparam_mutations={"lr": tune.uniform(0.01, 4.0)})
    tune.Tuner(accumulate_waiting_after_exploit,
               param_space={"lr": tune.grid_search([0.1, 1.0, 2.0, 3.0]), "marker": sys.argv[3]},
               tune_config=tune.TuneConfig(metric="value", mode="max", scheduler=pbt, reuse_actors=True),
               run_config=tune.RunConfig(storage_path=sys.argv[1], name="exp", verbose=0)).fit()
""")


def test_a_restore_after_a_kill_between_an_exploit_and_its_next_checkpoint_keeps_the_exploit(tmp_path, four_cpus):
    """The driver dies while an exploited trial has not saved a checkpoint of its own: the
    journal's ``trial_exploited`` record makes the restore start it from the donor's
    checkpoint with the explored config, not from its own older checkpoint."""
    marker = tmp_path / "waiting"
    tests = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    driver = subprocess.Popen([sys.executable, "-c", PBT_DRIVER, str(tmp_path), tests, str(marker)])
    try:
        deadline = time.monotonic() + 120
        while not marker.exists() and driver.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert marker.exists(), "no trial started from another trial's checkpoint"
    finally:
        driver.kill()
        driver.wait()
    with open(tmp_path / "exp" / "journal.jsonl") as f:
        journal = [json.loads(line) for line in f]
    exploit = next(r for r in journal if r["event"] == "trial_exploited")
    donor = next(r["trial_id"] for r in journal if r["event"] == "trial_started" and r["path"] == exploit["trial_dir"])
    results = tune.Tuner.restore(str(tmp_path / "exp"), accumulate_waiting_after_exploit).fit()
    assert results.num_errors == 0
    rows = _rows({r.metrics["trial_id"]: r for r in results}[exploit["trial_id"]])
    first = next(row for row in rows if row["config"] == exploit["config"])
    assert first["restored_owner"] == donor
    assert [row["training_iteration"] for row in rows] == list(range(1, len(rows) + 1))


def test_pbt_asynchronous_changes_configs_mid_training(tmp_path, four_cpus):
    pbt = _pbt()
    results = _pbt_fit(tmp_path, pbt, barrier=str(tmp_path / "barrier"), population=4, sleep=0.01)
    assert results.num_errors == 0 and results.num_terminated == 4
    records = pbt.policy_records()
    assert records
    by_id = {r.metrics["trial_id"]: r for r in results}
    for record in records:
        assert record["trial_iteration"] % 4 == 0
        rows = _rows(by_id[record["trial_id"]])
        starts = [row for row in rows if row["restored_owner"] == record["donor_id"] and row["config"] == record["new_config"]]
        if starts:  # the first result after the exploit continues the donor's run
            assert starts[0]["training_iteration"] == starts[0]["step"] == record["donor_iteration"] + 1


def test_pbt_replay_follows_a_logged_policy(tmp_path, synch_pbt):
    pbt, results = synch_pbt
    # a policy file holds the lineage of the trial's final state; trial 0 took trial 3's at
    # step 4 and, then among the best, was not exploited again
    record = pbt.policy_records()[0]
    policy = os.path.join(results.experiment_path, f"pbt_policy_{record['trial_id']}.txt")
    with open(policy) as f:
        initial, changes = pbt_policy_schedule([json.loads(line) for line in f])
    assert changes == [(record["donor_iteration"], record["new_config"])] and record["donor_iteration"] < 12
    replay = PopulationBasedTrainingReplay(policy)
    (result,) = _fit(accumulate, {}, tmp_path, metric="value", mode="max", scheduler=replay, reuse_actors=True)
    rows = _rows(result)
    # one trial, paused and resumed from its own checkpoint at each change: no step twice
    assert [row["training_iteration"] for row in rows] == [row["step"] for row in rows] == list(range(1, 13))
    expected, config = [], initial
    for row in rows:  # the config switches after the step where the ancestor's checkpoint was taken
        config = next((c for at, c in reversed(changes) if at < row["training_iteration"]), initial)
        expected.append(config)
    assert [row["config"] for row in rows] == expected
    for at, _ in changes:
        if at < 12:
            assert rows[at]["restored_step"] == at  # resumed from its own checkpoint at the change


def test_pbt_without_checkpoints_warns_at_the_first_exploit(tmp_path, four_cpus):
    def no_checkpoints(config):
        for step in range(1, 5):
            tune.report({"value": config["lr"] * step})

    pbt = PopulationBasedTraining(
        time_attr="training_iteration", perturbation_interval=2, hyperparam_mutations={"lr": [0.1, 1.0, 2.0]}, synch=True, seed=0
    )
    with pytest.warns(UserWarning, match="no trial has saved a checkpoint, so nothing is copied"):
        results = _fit(
            no_checkpoints, {"lr": tune.grid_search([0.1, 1.0, 2.0])}, tmp_path, metric="value", mode="max", scheduler=pbt, reuse_actors=True
        )
    assert results.num_errors == 0 and pbt.policy_records() == []
    assert [r.metrics["training_iteration"] for r in results] == [4, 4, 4]


def test_pb2_runs_and_explores_within_the_bounds(tmp_path, four_cpus):
    pytest.importorskip("sklearn")
    from tunesmith.schedulers.pb2 import PB2

    pb2 = PB2(time_attr="training_iteration", perturbation_interval=4, hyperparam_bounds={"lr": [0.01, 4.0]}, synch=True, seed=0)
    results = _pbt_fit(tmp_path, pb2)
    assert results.num_errors == 0 and [r.metrics["training_iteration"] for r in results] == [12] * 4
    records = pb2.policy_records()
    assert records
    assert all(0.01 <= r["new_config"]["lr"] <= 4.0 for r in records)
    assert os.path.exists(os.path.join(results.experiment_path, "pbt_global.txt"))


# -- resources that change -----------------------------------------------------------------------


def test_resource_changing_scheduler_gives_a_trial_more_cpus_mid_run(tmp_path, four_cpus):
    results = _fit(
        grow,
        {"x": tune.grid_search([1, 2])},
        tmp_path,
        metric="score",
        mode="max",
        scheduler=ResourceChangingScheduler(resources_allocation_function=DistributeResources()),
    )
    assert results.num_errors == 0
    for result in results:
        rows = _rows(result)
        assert [row["training_iteration"] for row in rows] == [row["step"] for row in rows] == [1, 2, 3, 4]
        cpus = [row["cpus"] for row in rows]
        # 4 CPUs: 2 each while both run; the last one running may take all 4
        assert cpus[0] == 1 and cpus == sorted(cpus) and cpus[-1] in (2, 4)
        assert result.metrics["cpus"] == cpus[-1]


# -- BOHB --------------------------------------------------------------------------------------


def test_hyperband_for_bohb_with_tune_bohb(tmp_path):
    pytest.importorskip("ConfigSpace", reason="TuneBOHB needs ConfigSpace")
    try:
        from tunesmith.search.bohb import TuneBOHB
    except ImportError as exc:  # pragma: no cover - another engineer is finishing it
        pytest.skip(f"tunesmith.search.bohb is not importable yet: {exc}")
    results = _fit(
        linear,
        {"q": tune.uniform(0, 10)},
        tmp_path,
        metric="score",
        mode="max",
        num_samples=9,
        reuse_actors=True,
        search_alg=TuneBOHB(seed=0),
        scheduler=HyperBandForBOHB(max_t=9, reduction_factor=3),
    )
    assert results.num_errors == 0 and len(results) == 9
    # the 9-trial bracket: 3 go past milestone 1, 1 of them past 3; the best q runs to 9
    reached = sorted(r.metrics["training_iteration"] for r in results)
    assert reached == [1, 1, 1, 1, 1, 1, 3, 3, 9]
    best = max(results, key=lambda r: r.config["q"])
    assert best.metrics["training_iteration"] == 9
    for result in results:
        assert [row["step"] for row in _rows(result)] == list(range(1, result.metrics["training_iteration"] + 1))


# -- bad input through the Tuner -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("scheduler", "tune_config", "match"),
    [
        (ASHAScheduler(metric="loss", mode="min"), {"metric": "acc", "mode": "max"},
         r"the scheduler AsyncHyperBandScheduler has metric='loss', mode='min', which conflicts with "
         r"TuneConfig\(metric='acc', mode='max'\)"),
        (ASHAScheduler(metric="acc", mode="min"), {"metric": "acc", "mode": "max"},
         r"has metric='acc', mode='min', which conflicts with TuneConfig\(metric='acc', mode='max'\)"),
        (ResourceChangingScheduler(HyperBandScheduler(metric="loss", mode="min")), {"metric": "acc", "mode": "max"},
         r"ResourceChangingScheduler has metric='loss', mode='min', which conflicts"),
    ],
)
def test_scheduler_metric_or_mode_conflicting_with_tune_config(tmp_path, scheduler, tune_config, match):
    with pytest.raises(ValueError, match=match):
        _fit(linear, {"q": 1}, tmp_path, scheduler=scheduler, **tune_config)


@pytest.mark.parametrize(
    ("scheduler", "match"),
    [
        (ASHAScheduler(time_attr="epoch"), "AsyncHyperBandScheduler needs time_attr 'epoch'"),
        (HyperBandScheduler(time_attr="epoch"), "HyperBandScheduler needs time_attr 'epoch'"),
        (MedianStoppingRule(time_attr="epoch"), "MedianStoppingRule needs time_attr 'epoch'"),
    ],
)
def test_a_time_attr_never_reported_ends_the_experiment_at_the_first_result(tmp_path, scheduler, match):
    with pytest.raises(TuneError, match=match) as caught:
        _fit(linear, {"q": tune.grid_search([1, 2])}, tmp_path, metric="score", mode="max", scheduler=scheduler)
    message = str(caught.value)
    assert "the first result (trial " in message
    reported = message.split("it reported: ", 1)[1].split(". Report", 1)[0].split(", ")
    assert {"score", "step", "training_iteration", "time_total_s"} <= set(reported)


def test_pbt_time_attr_never_reported_names_the_reported_keys(tmp_path):
    pbt = PopulationBasedTraining(time_attr="epoch", hyperparam_mutations={"q": [1, 2]})
    with pytest.raises(RuntimeError, match=r"every result must contain time_attr 'epoch' and metric 'score'.*reported \[.*'score'.*'step'"):
        _fit(linear, {"q": 1}, tmp_path, metric="score", mode="max", scheduler=pbt)
