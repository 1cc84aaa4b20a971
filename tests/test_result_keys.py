"""The auto-filled result keys: one definition, and the session fills exactly those."""

from tunesmith import _protocol
from tunesmith._result import Result
from tunesmith._result_keys import AUTO_FILLED, SESSION_FILLED
from tunesmith.trainable._session import _Session


def _session():
    assignment = _protocol.Assignment(trial_id="t1", trial_name="t1", trial_dir="/tmp/t1", experiment_name="e",
                                      resources={"cpu": 1}, attempt=0, trainable_key="k")
    return _Session(None, assignment)


def test_the_session_fills_the_defined_keys_in_rays_order():
    result = _session().auto_fill({"loss": 0.5}, now=1_700_000_000.0, checkpoint_dir_name=None)
    assert list(result) == ["loss", *SESSION_FILLED]
    assert result["training_iteration"] == 1 and result["trial_id"] == "t1"


def test_results_hide_only_the_auto_filled_keys():
    metrics = {key: 1 for key in AUTO_FILLED} | {"loss": 0.5}
    assert "metrics={'loss': 0.5}" in repr(Result(metrics=metrics, checkpoint=None, error=None, path="/tmp/t1"))
