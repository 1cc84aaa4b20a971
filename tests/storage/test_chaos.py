import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "benchmarks"))
import chaos  # noqa: E402


@pytest.mark.slow
def test_random_kills_lose_and_duplicate_nothing(tmp_path):
    report = chaos.run(kills=6, seed=3, storage=str(tmp_path))
    assert report["driver_kills"] + report["trial_kills"] == 6
    assert (report["lost"], report["duplicated"], report["corrupt"]) == (0, 0, 0)
    assert report["experiments"] >= 1
