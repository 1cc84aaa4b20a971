import os
import pickle
import threading

import pytest

import tunesmith as tune
from tunesmith.trainable._resources import normalize_resources


def test_get_context_inside_a_trial(run, storage):
    def train(config):
        ctx = tune.get_context()
        return {
            "trial_id": ctx.get_trial_id(),
            "name": ctx.get_trial_name(),
            "dir": ctx.get_trial_dir(),
            "exp": ctx.get_experiment_name(),
            "cpu": ctx.get_trial_resources().required_resources["CPU"],
            "cwd": os.getcwd(),
            "orig": os.environ.get("TUNE_ORIG_WORKING_DIR"),
        }

    result = run(train)[0]
    m = result.metrics
    assert m["name"] == f"train_{m['trial_id']}"
    assert m["dir"] == result.path and m["cwd"] == result.path
    assert m["exp"] == "exp" and m["cpu"] == 1.0
    assert m["orig"] == os.getcwd()


def test_context_and_report_outside_a_trial():
    ctx = tune.get_context()
    assert ctx.get_trial_id() is None and ctx.get_trial_dir() is None
    assert tune.get_checkpoint() is None
    with pytest.warns(UserWarning, match="outside a trial"):
        tune.report({"x": 1})


def test_report_rejects_keyword_style_and_non_dicts():
    with pytest.raises(TypeError):
        tune.report(loss=1)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="takes a dict"):
        tune.report(0.5)  # type: ignore[arg-type]


class _CountingUnpickles:
    """Counts how often it is unpickled, by appending a line to a file."""

    def __init__(self, path):
        self.path = path
        self.payload = b"x" * 1_000_000

    def __setstate__(self, state):
        self.__dict__.update(state)
        with open(self.path, "a") as f:
            f.write(f"{os.getpid()}\n")


def test_with_parameters_ships_large_objects_once_per_process(run, tmp_path):
    log = tmp_path / "unpickles.txt"
    big = _CountingUnpickles(str(log))

    def train(config, data):
        return {"size": len(data.payload), "pid": os.getpid()}

    # Processes run several trials only with reuse_actors=True; by default each trial has its own.
    results = run(tune.with_parameters(train, data=big), {"i": tune.grid_search(list(range(8)))}, reuse_actors=True)
    assert all(r.metrics["size"] == 1_000_000 for r in results)
    pids = {r.metrics["pid"] for r in results}
    unpickled_in = log.read_text().split()
    assert len(unpickled_in) == len(set(unpickled_in)) == len(pids)  # once per worker process, not per trial
    assert len(unpickled_in) < 8


def test_with_parameters_on_a_class(run):
    class WithData(tune.Trainable):
        def setup(self, config, data):
            self.data = data

        def step(self):
            return {"n": len(self.data), "done": True}

    assert run(tune.with_parameters(WithData, data=[1, 2, 3]))[0].metrics["n"] == 3


def test_with_resources_and_placement_group_factory():
    def train(config):
        pass

    assert tune.with_resources(train, {"cpu": 2, "gpu": 0.5})._resources == {"cpu": 2, "gpu": 0.5}
    pgf = tune.PlacementGroupFactory([{"CPU": 1, "GPU": 0.5}, {"CPU": 2}], "SPREAD")
    assert pgf.required_resources == {"CPU": 3.0, "GPU": 0.5}
    assert normalize_resources(pgf) == {"cpu": 3.0, "gpu": 0.5}
    assert normalize_resources({"CPU": 2, "custom_resources": {"tpu": 1}}) == {"cpu": 2.0, "tpu": 1.0, "gpu": 0.0}
    with pytest.raises(ValueError, match="must be >= 0"):
        tune.with_resources(train, {"cpu": -1})
    with pytest.raises(ValueError, match="strategy"):
        tune.PlacementGroupFactory([{"CPU": 1}], "RANDOM")


@pytest.mark.parametrize(
    "bad, message",
    [
        (lambda: None, "exactly one positional argument"),
        (lambda config, other: None, "exactly one positional argument"),
        (42, "must be a function"),
        (dict, "must subclass tunesmith.Trainable"),
    ],
)
def test_wrong_trainable_signature(bad, message):
    with pytest.raises(ValueError, match=message):
        tune.Tuner(bad)


def test_missing_trainable():
    with pytest.raises(tune.TuneError, match="provide a trainable"):
        tune.Tuner()


def test_unpicklable_trainable_names_the_culprit():
    lock = threading.Lock()

    def train(config):
        with lock:
            return {"x": 1}

    with pytest.raises(TypeError, match=r"captures 'lock' \(a lock\)"):
        tune.Tuner(train)


def test_register_trainable_by_name(run, tmp_path):
    def named(config):
        return {"v": 7}

    tune.register_trainable("named_fn", named)
    (result,) = run("named_fn")
    assert result.metrics["v"] == 7
    assert os.path.basename(result.path).startswith("named_fn_")  # the registered name, as in Ray Tune
    with pytest.raises(ValueError, match="registered: .*named_fn"):
        tune.Tuner("nope")
    # ... and a restore by the same name finds the experiment's trainable
    tune.Tuner("named_fn", run_config=tune.RunConfig(storage_path=str(tmp_path), name="by_name", verbose=0)).fit()
    restored = tune.Tuner.restore(str(tmp_path / "by_name"), "named_fn").fit()
    assert restored[0].metrics["v"] == 7


def test_trainable_class_directly():
    class Q(tune.Trainable):
        def setup(self, config):
            self.x = config["x"]

        def step(self):
            self.x *= 0.5
            return {"loss": self.x**2}

    q = Q({"x": 2.0})
    assert q.train()["loss"] == 1.0
    assert q.iteration == 1 and q.trial_id == "default"
    folder = q.save()
    q2 = Q({"x": 0.0})
    q2.restore(folder)  # default save_checkpoint stores nothing; restore must still work
    assert pickle.loads(pickle.dumps({"a": 1})) == {"a": 1}


def test_reuse_actors_resets_the_same_instance(run):
    class Reusable(tune.Trainable):
        def setup(self, config):
            self.instance = id(self)
            self.x = config["x"]

        def step(self):
            return {"x": self.x, "instance": self.instance, "pid": os.getpid(), "done": True}

        def reset_config(self, new_config):
            self.x = new_config["x"]
            return True

    tune.init(num_cpus=1)
    results = run(Reusable, {"x": tune.grid_search([1, 2, 3])}, reuse_actors=True)
    assert [r.metrics["x"] for r in results] == [1, 2, 3]
    assert len({(r.metrics["pid"], r.metrics["instance"]) for r in results}) == 1


def test_reuse_actors_without_reset_config_fails_clearly(run):
    class NoReset(tune.Trainable):
        def step(self):
            return {"done": True}

    tune.init(num_cpus=1)
    results = run(NoReset, {"x": tune.grid_search([1, 2])}, reuse_actors=True)
    assert results.num_errors == 1
    assert "reset_config" in str(results.errors[0])
