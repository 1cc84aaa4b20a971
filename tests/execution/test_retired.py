"""Finished trials leave the driver's memory and are read back from their folders when asked."""

import pytest

import tunesmith as tune
from tunesmith.experiment._trial import FinishedTrial


def reports(config):
    if config["i"] == 3:
        raise ValueError("trial three fails")
    for step in range(3):
        tune.report({"loss": config["i"] * 10 + step, "nested": {"v": step}})


class Seen(tune.Callback):
    """What callbacks see of the finished trials, at the end and at each trial's end."""

    def __init__(self):
        self.at_end = []
        self.completed = []

    def on_trial_complete(self, iteration, trials, trial, **info):
        self.completed.append((type(trial), trial.last_result.get("loss")))

    def on_experiment_end(self, trials, **info):
        self.at_end = [(type(t), t.trial_id, t.status, dict(t.config), t.last_result.get("loss"),
                        t.metric_analysis.get("loss"), str(t), t.path, type(t.error).__name__)
                       for t in trials]


def test_finished_trials_are_stand_ins_that_read_back_what_they_were(run):
    seen = Seen()
    results = run(reports, {"i": tune.grid_search([0, 1, 2, 3])}, run_config={"callbacks": [seen]})
    # the hook of a trial's end gets the full trial; afterwards the driver keeps a stand-in
    assert all(kind is not FinishedTrial for kind, _ in seen.completed)
    assert sorted(loss for _, loss in seen.completed) == [2, 12, 22]
    by_i = {row[3]["i"]: row for row in seen.at_end}
    for i in (0, 1, 2):
        kind, trial_id, status, config, loss, analysis, name, path, _ = by_i[i]
        assert kind is FinishedTrial and status == "TERMINATED"
        assert loss == i * 10 + 2
        assert analysis == {"max": i * 10 + 2, "min": i * 10, "avg": i * 10, "last": i * 10 + 2}
        assert name == f"reports_{trial_id}" and path.endswith(results[i].path.rsplit("/", 1)[-1])
    kind, _, status, _, loss, _, _, _, error = by_i[3]
    assert (kind, status, loss, error) == (FinishedTrial, "ERROR", None, "ValueError")


def test_a_grid_read_back_from_the_folders_matches_the_run(run):
    results = run(reports, {"i": tune.grid_search([0, 1, 2, 3])})
    assert len(results) == 4 and results.num_errors == 1 and results.num_terminated == 3
    assert [type(e) for e in results.errors] == [ValueError]
    assert [r.metrics.get("loss") for r in results] == [2, 12, 22, None]
    assert [r.config for r in results] == [{"i": i} for i in range(4)]
    assert results[1].metrics["nested"] == {"v": 2} and results[1].metrics["experiment_tag"] == "1_i=1"
    assert results.get_best_result("loss", "max").config == {"i": 2}
    assert list(results.get_dataframe()["loss"])[:3] == [2, 12, 22]
    assert [len(r.metrics_dataframe) for r in results[:3]] == [3, 3, 3]


@pytest.mark.parametrize("reported", [False, True])
def test_done_is_kept_as_the_trial_ended(run, reported):
    def silent(config):
        if reported:
            tune.report({"a": 1})

    results = run(silent, {"i": tune.grid_search([0, 1])})
    assert [r.metrics["done"] for r in results] == [True, True]
    assert ("training_iteration" in results[0].metrics) is reported


def test_progress_reads_the_metric_of_finished_trials_from_their_stand_ins(run, capsys):
    seen = Seen()
    run(reports, {"i": tune.grid_search([0, 1, 2])}, metric="loss", mode="max",
        run_config={"callbacks": [seen], "verbose": 1})
    # a finished trial keeps the experiment's metric: reports scan every trial without reading folders
    summaries = {}

    class Summaries(tune.Callback):
        def on_experiment_end(self, trials, **info):
            summaries.update({t.config["i"]: t.summary for t in trials})

    run(reports, {"i": tune.grid_search([0, 1])}, metric="nested/v", mode="max",
        run_config={"callbacks": [Summaries()], "name": "nested"})
    assert summaries == {0: {"nested": {"v": 2}}, 1: {"nested": {"v": 2}}}
    assert "Best trial: reports_" in capsys.readouterr().out


def test_evaluated_params_are_read_back_with_the_config(run):
    seen = {}

    class Params(tune.Callback):
        def on_experiment_end(self, trials, **info):
            seen.update({t.trial_id: (t.param_names, t.evaluated_params) for t in trials})

    run(reports, {"i": tune.grid_search([0, 1]), "nested": {"lr": tune.grid_search([0.5])}},
        run_config={"callbacks": [Params()]})
    assert sorted((p for _, p in seen.values()), key=lambda p: p["i"]) == [{"i": 0, "nested/lr": 0.5}, {"i": 1, "nested/lr": 0.5}]
    assert {names for names, _ in seen.values()} == {("i", "nested/lr")}


class Kept(tune.Callback):
    def on_experiment_end(self, trials, **info):
        self.kept = {t.config["i"]: t.kept for t in trials if isinstance(t, FinishedTrial)}


def test_what_a_folder_cannot_give_back_as_it_was_is_kept_by_the_stand_in(run):
    import numpy as np

    def train(config):
        if config["i"] == 1:
            raise KeyError("boom")
        tune.report({"score": 1, "pair": (1, 2), "weights": np.arange(3)} if config["i"] == 0 else {"score": 2})

    kept = Kept()
    results = run(train, {"i": tune.grid_search([0, 1, 2])}, run_config={"callbacks": [kept]})
    by_i = {r.config["i"]: r for r in results}
    assert by_i[0].metrics["pair"] == (1, 2) and isinstance(by_i[0].metrics["weights"], np.ndarray)
    assert type(by_i[1].error) is KeyError
    assert kept.kept[2] is None  # a JSON-exact result is not kept
    assert set(kept.kept[0]) == {"last_result"} and set(kept.kept[1]) == {"error"}


@pytest.mark.parametrize("how", ["fit", "restore.fit", "restore.get_results"])
def test_a_grid_reads_the_journal_once_however_often_it_is_asked(run, storage, monkeypatch, how):
    import tunesmith.storage._experiment as experiment

    results = run(reports, {"i": tune.grid_search([0, 1, 2, 3])}, metric="loss", mode="max")
    if how != "fit":
        tuner = tune.Tuner.restore(results.experiment_path, reports)
        results = tuner.fit() if how == "restore.fit" else tuner.get_results()
    reads = []
    counted = experiment.iter_journal

    def iter_journal(*args, **kwargs):
        reads.append(args)
        return counted(*args, **kwargs)

    monkeypatch.setattr(experiment, "iter_journal", iter_journal)
    for _ in range(3):
        assert results.get_best_result().config == {"i": 2}
    assert results.get_best_result("nested/v", "min").config == {"i": 0}
    assert list(results.get_dataframe()["loss"])[:3] == [2, 12, 22]
    assert results.num_errors == 1 and [r.metrics.get("loss") for r in results] == [2, 12, 22, None]
    # the finished trials' last results are read from the journal once, then kept (a grid of
    # trials rebuilt whole, as a restored tuner's get_results() gives, reads it not at all)
    assert len(reads) == (0 if how == "restore.get_results" else 1)
