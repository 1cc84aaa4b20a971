import pytest

import tunesmith as tune


@pytest.fixture
def storage(tmp_path):
    return str(tmp_path / "results")


@pytest.fixture
def run(storage):
    """Run a Tuner quietly into a temporary folder: ``run(trainable, param_space, **tune_config)``."""

    def _run(trainable, param_space=None, *, run_config=None, **tune_config):
        run_config = run_config or {}
        run_config.setdefault("verbose", 0)
        run_config.setdefault("storage_path", storage)
        run_config.setdefault("name", "exp")
        tuner = tune.Tuner(
            trainable,
            param_space=param_space or {},
            tune_config=tune.TuneConfig(**tune_config),
            run_config=tune.RunConfig(**run_config),
        )
        return tuner.fit()

    return _run


@pytest.fixture(autouse=True)
def _fresh_default_executor():
    yield
    tune.shutdown()
