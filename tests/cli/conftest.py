import pytest

import tunesmith as tune


def _train(config):
    for step in range(3):
        tune.report({"loss": config["lr"] * (3 - step), "acc": step / 3})
    if config["lr"] > 0.25:
        raise ValueError(f"lr {config['lr']} too large")


@pytest.fixture
def finished(run, storage):
    """A finished experiment ``exp`` of 3 trials, one errored."""
    run(_train, {"lr": tune.grid_search([0.1, 0.2, 0.3])}, metric="loss", mode="min")
    return storage
