"""Regression checks for the per-trial overhead, with no timing: what a finished trial
leaves on disk and in the driver's memory. The timings are in benchmarks/ (BENCHMARKS.md)."""

import gc
import os
import tracemalloc

import tunesmith as tune

TRIAL_FILES = {"params.json", "params.pkl", "result.json", "progress.csv"}


def trivial(config):
    return {"x": config["i"]}


def reports(config):
    for i in range(config["n"]):
        tune.report({"i": i, "loss": 1.0 / (i + 1)})


def _traced_bytes(run, trainable, param_space, name):
    """Peak and held (after the run, with its results kept) traced bytes of one run."""
    gc.collect()
    tracemalloc.start()
    try:
        results = run(trainable, param_space, run_config={"name": name})
        peak = tracemalloc.get_traced_memory()[1]
        gc.collect()
        held = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert results.num_errors == 0
    return peak, held, results


def _lowest_peak(run, trainable, param_space, name):
    """The lower peak of two runs: another thread of the test process (a library a test before
    this one started) can allocate during one run, never less, so the lower is the run's own."""
    first, _, _ = _traced_bytes(run, trainable, param_space, f"{name}-1")
    second, _, results = _traced_bytes(run, trainable, param_space, f"{name}-2")
    return min(first, second), results


def test_a_finished_trial_leaves_exactly_rays_files(run):
    results = run(trivial, {"i": tune.grid_search(list(range(30)))})
    for result in results:
        names = set(os.listdir(result.path))
        events = [n for n in names if n.startswith("events.out.tfevents.")]
        assert len(events) == 1, names
        assert names - set(events) == TRIAL_FILES
    experiment = os.path.dirname(results[0].path)
    extra = [n for n in os.listdir(experiment) if not os.path.isdir(os.path.join(experiment, n))]
    assert len(extra) <= 6, extra  # journal, configs, searcher state, ...: a constant, not per trial


def test_driver_memory_per_finished_trial_is_small_and_constant(run):
    run(trivial, {"i": tune.grid_search(list(range(20)))}, run_config={"name": "warm"})  # imports, caches
    small_peak, small, _ = _traced_bytes(run, trivial, {"i": tune.grid_search(list(range(100)))}, "small")
    large_peak, large, results = _traced_bytes(run, trivial, {"i": tune.grid_search(list(range(400)))}, "large")
    per_trial = (large - small) / 300
    # A finished trial lives in its folder; the driver keeps its id, folder name, tag and
    # status (about 460 bytes measured here, was 5 KB with the whole trial), so 100,000 trials
    # fit in the 200 MB budget. The grid reads each result back when asked.
    assert per_trial < 1_000, f"{per_trial:.0f} bytes held per finished trial"
    # Nor does the run hold whole trials until its end (the peak was 5.3 KB a trial then, and
    # is about 650 bytes now; the margin is for another thread of the test process).
    per_trial_at_peak = (large_peak - small_peak) / 300
    assert per_trial_at_peak < 3_000, f"{per_trial_at_peak:.0f} bytes a trial at the peak"
    assert sorted(r.metrics["x"] for r in results) == list(range(400))


def test_results_are_streamed_to_disk_not_kept_in_memory(run):
    run(reports, {"n": 5}, run_config={"name": "warm"})
    # A trial that waits for no decision runs ahead of the driver by up to what the
    # connection buffers, so the driver handles up to a few hundred results in one step:
    # a peak that does not grow with the run. Both runs are long enough to reach it.
    few, _ = _lowest_peak(run, reports, {"n": 1000}, "few")
    many, results = _lowest_peak(run, reports, {"n": 3000}, "many")
    with open(os.path.join(results[0].path, "result.json")) as f:
        assert sum(1 for _ in f) == 3000
    per_result = (many - few) / 2000
    assert per_result < 100, f"{per_result:.0f} bytes held per reported result"


class _Steps(tune.Callback):
    """Counts the driver loop's steps."""

    def __init__(self):
        self.steps = 0

    def on_step_begin(self, iteration, trials, **info):
        self.steps = iteration


def _sleeps(config):
    import time

    time.sleep(0.3)
    return {"x": config["i"]}


def test_the_driver_waits_for_events_while_trials_queue_for_cpus(run):
    """Trials that cannot start for want of CPUs start when one ends (an event): the loop
    waits for it instead of polling without a timeout (tens of thousands of steps)."""
    tune.init(num_cpus=1)
    steps = _Steps()
    results = run(_sleeps, {"i": tune.grid_search(list(range(6)))}, run_config={"name": "queue", "callbacks": [steps]})
    assert results.num_errors == 0
    assert steps.steps < 600, steps.steps  # about 1.8 s of trials: a step per event or per 0.05 s


def _driver_calls(run, n, name):
    """Python function calls made in the driver's thread while ``n`` trivial trials run."""
    import sys
    import threading

    calls = [0]
    driver = threading.get_ident()

    def count(frame, event, arg):
        if event in ("call", "c_call") and threading.get_ident() == driver:
            calls[0] += 1

    sys.setprofile(count)
    try:
        results = run(trivial, {"i": tune.grid_search(list(range(n)))}, reuse_actors=True, run_config={"name": name})
    finally:
        sys.setprofile(None)
    assert results.num_errors == 0
    return calls[0]


def test_the_driver_does_the_same_work_for_the_last_trial_as_for_the_first(run):
    """No work per trial that grows with the trials so far (a scan of every trial, a list
    that grows): trials 200-400 cost the driver as many calls as trials 40-200.
    Function calls, not time: about 1,000 per trivial trial here."""
    tune.init(num_cpus=2)
    _driver_calls(run, 20, "warm")  # imports, caches
    counts = [_driver_calls(run, n, f"n{n}") for n in (40, 200, 360)]
    early, late = (counts[1] - counts[0]) / 160, (counts[2] - counts[1]) / 160
    assert late < 1.15 * early, f"{early:.0f} calls per trial among trials 40-200, {late:.0f} among 200-360"


def test_journal_records_are_written_before_the_driver_waits(run, monkeypatch):
    """The records of a step may wait for the step's events (one write for both), but
    never across a wait: a kill -9 during the wait finds them on disk."""
    from tunesmith.execution import _server
    from tunesmith.storage import _storage

    made, waits = [], []
    init, poll = _storage.ExperimentStorage.__init__, _server.TrialServer.poll

    def recording_init(self, *args, **kwargs):
        init(self, *args, **kwargs)
        made.append(self)

    def recording_poll(self, timeout):
        if timeout is None or timeout > 0:
            waits.append(any(storage.journal_pending for storage in made))
        return poll(self, timeout)

    monkeypatch.setattr(_storage.ExperimentStorage, "__init__", recording_init)
    monkeypatch.setattr(_server.TrialServer, "poll", recording_poll)
    results = run(trivial, {"i": tune.grid_search(list(range(60)))}, reuse_actors=True)
    assert results.num_errors == 0
    assert waits and not any(waits), f"{sum(waits)} of {len(waits)} waits began with records not written"


def _restored_bytes(run, storage, name, n):
    """Bytes traced while ``n`` finished trials are restored and fitted (nothing runs again),
    and still held after, with the Tuner and its ResultGrid alive: ``(held, peak)``."""
    run(trivial, {"i": tune.grid_search(list(range(n)))}, run_config={"name": name})
    gc.collect()
    tracemalloc.start()
    try:
        tuner = tune.Tuner.restore(os.path.join(storage, name), trivial)
        results = tuner.fit()
        gc.collect()
        held, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(results) == n and results.num_terminated == n
    assert sorted(r.metrics["x"] for r in results) == list(range(n))
    return held, peak


def test_driver_memory_per_finished_trial_after_a_restore_is_small(run, storage):
    _restored_bytes(run, storage, "warm", 20)  # imports, caches
    small_held, small_peak = _restored_bytes(run, storage, "small", 100)
    large_held, large_peak = _restored_bytes(run, storage, "large", 400)
    held, peak = (large_held - small_held) / 300, (large_peak - small_peak) / 300
    # A restored finished trial is a FinishedTrial stand-in made from the journal, as one
    # retired during a run; a whole Trial with its last result and metric summary was ~5 KB.
    assert held < 1_500, f"{held:.0f} bytes held per restored finished trial"
    assert peak < 3_000, f"{peak:.0f} bytes at the peak per restored finished trial"
