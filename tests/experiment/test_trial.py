"""Trial names, trial folders and trial resources, as Ray Tune's ``Trial`` has them."""

import os

import pytest

import tunesmith as tune
from tunesmith.experiment import Trial
from tunesmith.trainable import PlacementGroupFactory


def objective(config):
    ctx = tune.get_context()
    resources = ctx.get_trial_resources()
    return {"name": ctx.get_trial_name(), "resources": repr(resources),
            "is_pgf": isinstance(resources, PlacementGroupFactory), "dir": ctx.get_trial_dir()}


class _Names(tune.Callback):
    def __init__(self):
        self.names, self.resources = [], []

    def on_trial_result(self, iteration, trials, trial, result, **info):
        self.names.append(str(trial))
        self.resources.append(getattr(trial, "trial_resources", None))


def test_a_repeated_dirname_gives_each_trial_its_own_folder(run):
    results = run(objective, {"a": tune.grid_search([1, 2, 3])}, trial_dirname_creator=lambda t: "same")
    folders = [os.path.basename(r.path) for r in results]
    assert len(set(folders)) == 3 and "same" in folders
    assert all(f.startswith("same") for f in folders)
    assert {r.metrics["dir"] for r in results} == {r.path for r in results}
    for result in results:  # each folder holds its own trial's files only
        assert len(open(os.path.join(result.path, "result.json")).readlines()) == 1


@pytest.mark.parametrize("name", ["..", ".", "", "a/b", "/tmp/elsewhere", "../escape", None, 5])
def test_a_dirname_that_leaves_the_experiment_folder_is_refused(run, storage, name):
    with pytest.raises(ValueError, match=r"trial_dirname_creator must return a folder name inside the experiment"):
        run(objective, trial_dirname_creator=lambda t: name)
    assert not os.path.exists(os.path.join(storage, "result.json"))
    assert not os.path.exists("/tmp/elsewhere")


def test_trial_name_creator_names_the_trial_everywhere(run):
    names = _Names()
    results = run(objective, {"a": tune.grid_search([1, 2])}, trial_name_creator=lambda t: f"custom_{t.config['a']}",
                  run_config={"callbacks": [names]})
    assert sorted(names.names) == ["custom_1", "custom_2"]
    assert sorted(r.metrics["name"] for r in results) == ["custom_1", "custom_2"]


def test_trial_resources_is_a_placement_group_factory(run):
    names = _Names()
    results = run(tune.with_resources(objective, {"cpu": 1}), run_config={"callbacks": [names]})
    (resources,) = names.resources
    assert isinstance(resources, PlacementGroupFactory)
    assert resources.required_resources == {"CPU": 1.0} and resources.head_cpus == 1.0
    assert resources == PlacementGroupFactory([{"CPU": 1}])
    assert results[0].metrics["is_pgf"] and results[0].metrics["resources"] == repr(resources)


@pytest.mark.parametrize(
    ("resources", "given", "bundles"),
    [
        ({"cpu": 1.0}, None, [{"CPU": 1.0}]),
        ({"cpu": 2.0, "gpu": 0.5, "license": 1.0}, None, [{"CPU": 2.0, "GPU": 0.5, "license": 1.0}]),
        ({"cpu": 3.0}, PlacementGroupFactory([{"CPU": 1}, {"CPU": 2}]), [{"CPU": 1.0}, {"CPU": 2.0}]),
        ({"cpu": 4.0}, PlacementGroupFactory([{"CPU": 1}, {"CPU": 2}]), [{"CPU": 4.0}]),  # changed since
    ],
)
def test_placement_group_factory_follows_the_resources(resources, given, bundles):
    trial = Trial("f", trial_id="t", config={}, resources=resources, placement_group_factory=given)
    assert trial.placement_group_factory.bundles == bundles
    assert trial.trial_resources == trial.placement_group_factory
