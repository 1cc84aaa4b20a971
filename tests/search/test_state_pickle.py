import io
import threading

import cloudpickle
import pytest

from tunesmith.search import Searcher
from tunesmith.search._state_pickle import dump_state


class _LibraryObject:
    """Stands in for a library object that a new release gave a lock (as Optuna 5.1 did)."""

    def __init__(self):
        self.counter = 3
        self._lock = threading.Lock()
        self._rlock = threading.RLock()


class _Holder(Searcher):
    def __init__(self, inner):
        super().__init__(metric="loss", mode="min")
        self.inner = inner

    def suggest(self, trial_id):
        return {}

    def on_trial_complete(self, trial_id, result=None, error=False):
        pass


def test_locks_are_saved_as_fresh_unheld_locks():
    obj = _LibraryObject()
    obj._lock.acquire()  # held at save time: the copy is still a free lock
    buffer = io.BytesIO()
    dump_state({"inner": obj}, buffer)
    copy = cloudpickle.loads(buffer.getvalue())["inner"]
    assert copy.counter == 3
    assert copy._lock.acquire(blocking=False)
    assert copy._rlock.acquire(blocking=False) and copy._rlock.acquire(blocking=False)  # still re-entrant


def test_a_searcher_holding_a_locked_library_object_saves_and_restores(tmp_path):
    path = str(tmp_path / "state.pkl")
    _Holder(_LibraryObject()).save(path)
    restored = _Holder(None)
    restored.restore(path)
    assert restored.inner.counter == 3 and restored.metric == "loss"


def test_other_unpicklable_members_fail_naming_the_attribute(tmp_path):
    path = tmp_path / "state.pkl"
    with pytest.raises(TypeError, match=r"cannot save the searcher state: attribute 'inner' cannot be pickled: .*generator"):
        _Holder((i for i in range(3))).save(str(path))
    assert list(tmp_path.iterdir()) == []  # no half-written file is left behind


@pytest.mark.parametrize("copy_searcher", [lambda s: cloudpickle.loads(cloudpickle.dumps(s)), __import__("copy").deepcopy],
                         ids=["cloudpickle", "deepcopy"])
def test_a_searcher_holding_a_locked_library_object_can_be_pickled_and_copied(copy_searcher):
    # Tuner pickles its TuneConfig, searcher included, when fit() starts (for Tuner.restore).
    copy = copy_searcher(_Holder(_LibraryObject()))
    assert isinstance(copy, _Holder) and copy.inner.counter == 3 and copy.metric == "loss"
    assert copy.inner._lock.acquire(blocking=False)
