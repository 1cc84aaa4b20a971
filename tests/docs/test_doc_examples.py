"""The examples added with the docs run with ``--smoke-test`` (the notebook with SMOKE_TEST=1),
and every example in examples/ is run by some test."""

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def run_example(name, tmp_path, *args, env=None):
    env = {**os.environ, "TUNESMITH_STORAGE_PATH": str(tmp_path / "results"), **(env or {})}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    out = subprocess.run([sys.executable, str(EXAMPLES / name), "--smoke-test", *args],
                         capture_output=True, text=True, env=env, timeout=280, cwd=tmp_path)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return out.stdout


@pytest.mark.timeout(300)
def test_dask_example(tmp_path):
    pytest.importorskip("distributed")
    out = run_example("dask_example.py", tmp_path)
    assert re.search(r"Dask ran 4 trials in \d processes; best x=", out), out[-2000:]


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_restore_example_interrupts_with_ctrl_c_and_restores(tmp_path):
    out = run_example("restore_example.py", tmp_path)
    assert "Interrupted. Resume with: Tuner.restore(" in out
    assert "Can restore: True" in out
    assert "Restored: 4 trials, 4 finished, every step logged once" in out
    assert "Restored with num_samples=6: 6 trials" in out


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_wandb_offline_example(tmp_path):
    pytest.importorskip("wandb")
    out = run_example("wandb_example.py", tmp_path, env={"WANDB_DISABLE_GIT": "true", "WANDB_SILENT": "true"})
    assert "WandbLoggerCallback: 2 trials" in out and "setup_wandb: 2 trials, 0 errors" in out
    assert out.count("offline runs: 2") == 2, out


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_notebook_example_runs_in_a_kernel(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    notebook = nbformat.read(EXAMPLES / "notebook_example.ipynb", as_version=4)
    env = {**os.environ, "SMOKE_TEST": "1", "TUNESMITH_STORAGE_PATH": str(tmp_path / "results")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    client = nbclient.NotebookClient(notebook, timeout=240, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    client.execute(env=env)
    texts = "".join(o.get("text", "") for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs)
    assert "best config: {'lr': " in texts, texts[-2000:]
    frame = notebook.cells[4].outputs[-1]["data"]["text/plain"]
    assert "config/lr" in frame and "loss" in frame


def _run_by_some_test(stem):
    pattern = re.compile(rf"[\"']{re.escape(stem)}(\.py|\.ipynb)?[\"']")
    return any(pattern.search(path.read_text(encoding="utf-8")) for path in (ROOT / "tests").rglob("*.py"))


def test_every_example_is_run_by_a_test():
    stems = sorted(p.stem for p in EXAMPLES.iterdir() if p.suffix in (".py", ".ipynb"))
    assert [stem for stem in stems if not _run_by_some_test(stem)] == []


def test_every_python_example_has_a_smoke_test_flag_or_is_the_quickstart():
    for path in EXAMPLES.glob("*.py"):
        if path.stem != "quickstart":
            assert "--smoke-test" in path.read_text(encoding="utf-8"), path.name
