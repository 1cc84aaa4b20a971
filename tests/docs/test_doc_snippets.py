"""Every Python snippet of README.md and docs/ runs (see ``_doc_snippets.py`` for the rules)."""

import os
import subprocess
import sys

import pytest
from _doc_snippets import ROOT, pages, snippets

RUNNER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_doc_snippets.py")
PAGES = [page for page in pages() if any(not s.skip for s in snippets(page))]
# Pages whose snippets take more than a few seconds (real searcher libraries, a Dask cluster).
SLOW = {"guides/search_algorithms.md", "guides/tracking.md", "guides/storage.md", "scaling_out.md", "guides/pbt.md"}


def _id(page):
    return str(page.relative_to(ROOT / "docs")) if page.parent != ROOT else page.name


@pytest.mark.timeout(300)
@pytest.mark.parametrize(
    "page", [pytest.param(p, marks=[pytest.mark.slow] if _id(p) in SLOW else []) for p in PAGES], ids=_id,
)
def test_page_snippets_run(page, tmp_path):
    missing = sorted({m for s in snippets(page) if not s.skip for m in s.missing()})
    # HOME too, so a snippet's "~/tunesmith_results/..." stays in the temporary folder.
    env = dict(os.environ, TUNESMITH_STORAGE_PATH=str(tmp_path / "results"), HOME=str(tmp_path),
               PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    proc = subprocess.run([sys.executable, RUNNER, str(page)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=280)
    assert proc.returncode == 0, f"{page}:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    if missing:
        pytest.skip(f"ran all but the snippets that need {', '.join(missing)}")


def test_every_skip_has_a_reason_and_every_block_is_found():
    blocks = {page: snippets(page) for page in pages()}
    assert blocks[ROOT / "README.md"], "README.md has Python snippets"
    skipped = [(s.page.name, s.line, s.skip) for b in blocks.values() for s in b if s.skip]
    assert all(reason for *_, reason in skipped)
    # A snippet is skipped only for what cannot run here; most run.
    total = sum(len(b) for b in blocks.values())
    assert len(skipped) < total / 4, skipped


def test_a_broken_snippet_fails(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("Text\n\n```python\nx = 1\n```\n\n```python\nassert x == 2, 'x is 1'\n```\n")
    proc = subprocess.run([sys.executable, RUNNER, str(page)], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode != 0
    assert f'File "{page}", line 8' in proc.stderr and "x is 1" in proc.stderr
