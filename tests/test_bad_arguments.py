"""Generated bad ``Tuner``/``TuneConfig``/``RunConfig`` (and nested config) arguments: each
fails at construction, or when ``fit()`` starts, with an error naming the argument; no
trial runs, and no trial is written."""

import datetime
import math

import pytest

import tunesmith as tune


class _Thing:
    def __repr__(self):
        return "<thing>"


_WRONG_TYPES = ["10", b"10", [1], {"a": 1}, _Thing(), (1,)]
_NOT_INT = [*_WRONG_TYPES, 1.5, True, math.nan]
_NOT_BOOL = [*_WRONG_TYPES, 1, 0, 1.0, None]

#: (config class, field, bad values); the error must name the field.
_FIELDS = [
    (tune.TuneConfig, "mode", [*_WRONG_TYPES, "maximize", "", ["min", "up"], 1]),
    (tune.TuneConfig, "metric", [b"m", 1, {"a": 1}, _Thing(), "", [], ["a", 1]]),
    (tune.TuneConfig, "num_samples", [*_NOT_INT, 0, -2, -100]),
    (tune.TuneConfig, "max_concurrent_trials", [*_NOT_INT, -1, -10]),
    (tune.TuneConfig, "time_budget_s", [*_WRONG_TYPES, True, 0, -1, -0.5, math.nan, datetime.timedelta(0),
                                        datetime.timedelta(seconds=-5)]),
    (tune.TuneConfig, "reuse_actors", [v for v in _NOT_BOOL if v is not None] + [None]),
    (tune.TuneConfig, "trial_name_creator", [*_WRONG_TYPES, 1, "name"]),
    (tune.TuneConfig, "trial_dirname_creator", [*_WRONG_TYPES, 1, "name"]),
    (tune.TuneConfig, "search_alg", [1, 1.5, b"x", [1], {"a": 1}, _Thing(), tune.FailureConfig()]),
    (tune.TuneConfig, "scheduler", [1, 1.5, b"x", [1], {"a": 1}, _Thing(), tune.FailureConfig()]),
    (tune.TuneConfig, "executor", [1, "local", b"x", [1], {"a": 1}, _Thing()]),
    (tune.RunConfig, "name", ["", "a/b", ".", "..", 1, b"x", [1], _Thing()]),
    (tune.RunConfig, "storage_path", [1, 1.5, b"x", [1], {"a": 1}, _Thing(), ""]),
    (tune.RunConfig, "stop", [1, "10", b"x", _Thing(), [1], (_Thing(),)]),
    (tune.RunConfig, "callbacks", [1, "cb", _Thing(), [1], [_Thing()], {"a": 1}]),
    (tune.RunConfig, "failure_config", [1, "x", {"max_failures": 1}, _Thing(), tune.CheckpointConfig()]),
    (tune.RunConfig, "checkpoint_config", [1, "x", {"num_to_keep": 1}, _Thing(), tune.FailureConfig()]),
    (tune.RunConfig, "sync_config", [1, "x", {}, _Thing()]),
    (tune.RunConfig, "verbose", [*_WRONG_TYPES, -1, 4, 1.5]),
    (tune.RunConfig, "progress_reporter", [1, "cli", [1], _Thing()]),
    (tune.RunConfig, "log_to_file", [1, 1.5, [1], ("a", "b", "c"), _Thing(), ""]),
    (tune.CheckpointConfig, "num_to_keep", [*_NOT_INT, 0, -1]),
    (tune.CheckpointConfig, "checkpoint_score_attribute", [1, b"x", [1], _Thing(), ""]),
    (tune.CheckpointConfig, "checkpoint_score_order", [*_WRONG_TYPES, "best", "", None]),
    (tune.CheckpointConfig, "checkpoint_frequency", [*_NOT_INT, -1]),
    (tune.CheckpointConfig, "checkpoint_at_end", [*_WRONG_TYPES, 1, 0]),
    (tune.FailureConfig, "max_failures", [*_NOT_INT, -2, None]),
    (tune.FailureConfig, "fail_fast", [1, 0.5, [1], _Thing(), "yes", None]),
    (tune.SyncConfig, "sync_period", [*_WRONG_TYPES, -1, True]),
    (tune.SyncConfig, "sync_artifacts", [*_WRONG_TYPES, 1, None]),
]

_CASES = [
    pytest.param(cls, field, value, id=f"{cls.__name__}.{field}={value!r}"[:80])
    for cls, field, values in _FIELDS
    for value in values
]


def objective(config):
    return {"score": 1}


def _extra(field, value):
    """Arguments a field needs besides the bad one (metric needs a mode)."""
    return {"mode": "max"} if field == "metric" else {}


@pytest.mark.parametrize(("cls", "field", "value"), _CASES)
def test_a_bad_config_field_fails_at_construction_naming_it(cls, field, value):
    with pytest.raises((TypeError, ValueError), match=field):
        cls(**{field: value}, **_extra(field, value))


def test_there_are_at_least_100_generated_cases():
    assert len(_CASES) + len(_TUNER_CASES) + len(_FIT_CASES) >= 100


#: Tuner arguments that fail at construction: (keyword arguments, what the error names).
_TUNER_CASES = [
    ({"trainable": None}, "trainable"),
    ({"trainable": 5}, "trainable"),
    ({"trainable": "no_such_registered_trainable"}, "no_such_registered_trainable"),
    ({"trainable": _Thing()}, "trainable"),
    ({"param_space": [1, 2]}, "param_space"),
    ({"param_space": "a"}, "param_space"),
    ({"param_space": 5}, "param_space"),
    ({"tune_config": {"metric": "score"}}, "tune_config"),
    ({"tune_config": tune.RunConfig()}, "tune_config"),
    ({"run_config": {"name": "x"}}, "run_config"),
    ({"run_config": tune.TuneConfig()}, "run_config"),
]


@pytest.mark.parametrize(("kwargs", "named"), _TUNER_CASES, ids=[repr(k)[:60] for k, _ in _TUNER_CASES])
def test_a_bad_tuner_argument_fails_at_construction_naming_it(kwargs, named):
    kwargs = {"trainable": objective, **kwargs}
    trainable = kwargs.pop("trainable")
    with pytest.raises((TypeError, ValueError, tune.TuneError), match=named):
        tune.Tuner(trainable, **kwargs)


def _ran(config):
    raise AssertionError("no trial may run")


#: Arguments accepted at construction that fail when fit() starts: (tune_config kwargs, what the error names).
_FIT_CASES = [
    ({"search_alg": "no_such_searcher"}, "no_such_searcher"),
    ({"scheduler": "no_such_scheduler"}, "no_such_scheduler"),
    ({"metric": "score", "mode": "max", "scheduler": tune.schedulers.ASHAScheduler(metric="other", mode="max")},
     "metric"),
    ({"metric": "score", "mode": "max", "search_alg": tune.search.BasicVariantGenerator(max_concurrent=1),
      "max_concurrent_trials": 1, "num_samples": 1}, None),
]


@pytest.mark.parametrize(("tune_config", "named"), _FIT_CASES, ids=[repr(k)[:60] for k, _ in _FIT_CASES])
def test_a_bad_combination_fails_when_fit_starts_before_any_trial(tmp_path, tune_config, named):
    storage = tmp_path / "results"
    tuner = tune.Tuner(_ran, tune_config=tune.TuneConfig(**tune_config),
                       run_config=tune.RunConfig(storage_path=str(storage), name="exp", verbose=0))
    if named is None:  # a control: a valid combination runs (and its trial raises, which is no crash)
        assert tuner.fit().num_errors == 1
        return
    with pytest.raises((TypeError, ValueError, tune.TuneError), match=named):
        tuner.fit()
    exp = storage / "exp"
    # The Tuner's own spec (experiment.pkl, written when it is built, as Ray's tuner.pkl) may be
    # there; no trial folder and no trial in the journal.
    assert not any(p.is_dir() for p in exp.iterdir()) if exp.exists() else True
    journal = exp / "journal.jsonl"
    assert not journal.exists() or "trial_added" not in journal.read_text()
