import pytest

import tunesmith as tune


@pytest.fixture
def finished(run, storage):
    """A finished experiment ``exp`` of 3 trials, one errored."""

    def train(config):  # defined here so that it travels by value, whatever conftest is called
        for step in range(3):
            tune.report({"loss": config["lr"] * (3 - step), "acc": step / 3})
        if config["lr"] > 0.25:
            raise ValueError(f"lr {config['lr']} too large")

    run(train, {"lr": tune.grid_search([0.1, 0.2, 0.3])}, metric="loss", mode="min")
    return storage
