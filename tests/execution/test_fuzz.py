"""A small run of ``benchmarks/fuzz.py``: bad frames at a live experiment's TrialServer, plain and TLS."""

import json
import os
import subprocess
import sys

import pytest

FUZZ = os.path.join(os.path.dirname(__file__), "..", "..", "benchmarks", "fuzz.py")


@pytest.mark.parametrize("tls", [False, True], ids=["tcp", "tls"])
def test_malformed_frames_neither_crash_nor_hang_the_driver_and_lose_no_row(tmp_path, tls):
    if tls:
        pytest.importorskip("distributed")
        pytest.importorskip("cryptography")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    out = subprocess.run([sys.executable, FUZZ, "--frames", "120", "--trials", "2", "--steps", "5", "--seed", "3",
                          "--storage", str(tmp_path), *(["--tls"] if tls else [])],
                         capture_output=True, text=True, env=env, timeout=300)
    report = json.loads(out.stdout)
    assert out.returncode == 0, (report, out.stderr[-2000:])
    assert report["tls"] is tls
    assert report["frames"] == 120 and len(report["by_category"]) == 9
    assert (report["driver_error"], report["trial_errors"], report["hangs"], report["lost_rows"]) == (None, 0, 0, 0)
