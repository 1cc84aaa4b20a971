"""Find and run the Python snippets of the documentation (README.md and docs/**/*.md).

Every fenced ```python block runs; the blocks of one page run in order in one namespace
(as a reader would paste them), in a fresh process whose working directory and default
storage are a temporary folder. An HTML comment on the line just before a block changes
that, and is invisible on the site:

- ``<!-- snippet: skip REASON -->``: not run (it needs a Slurm or Kubernetes cluster, a
  cloud account...); the reason is required.
- ``<!-- snippet: needs MODULE[, MODULE] -->``: runs only where these import.

A page may also hold hidden set-up code, run before its next block:

    <!-- snippet-setup
    def train(config): ...
    -->

Run one page by hand: ``python tests/docs/_doc_snippets.py docs/guides/pbt.md``.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_FENCE = re.compile(r"^```python\s*$")
_DIRECTIVE = re.compile(r"^<!--\s*snippet:\s*(skip|needs)\s*(.*?)\s*-->\s*$")
_SETUP_START = re.compile(r"^<!--\s*snippet-setup\s*$")


@dataclasses.dataclass
class Snippet:
    """One block of code to run, with where it came from."""

    page: Path
    line: int  # 1-based line of the first code line
    code: str
    skip: str | None = None
    needs: tuple[str, ...] = ()

    def missing(self) -> list[str]:
        """Return the modules in ``needs`` that cannot be imported here."""
        return [m for m in self.needs if importlib.util.find_spec(m) is None]


def pages() -> list[Path]:
    """Return README.md and every Markdown page under docs/, sorted."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def snippets(page: Path) -> list[Snippet]:
    """Return the page's Python blocks and hidden set-up blocks, in order."""
    lines = page.read_text(encoding="utf-8").splitlines()
    found: list[Snippet] = []
    i = 0
    while i < len(lines):
        if _SETUP_START.match(lines[i]):
            end = lines.index("-->", i + 1)
            found.append(Snippet(page, i + 2, "\n".join(lines[i + 1:end])))
            i = end + 1
            continue
        if _FENCE.match(lines[i]):
            end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
            snippet = Snippet(page, i + 2, "\n".join(lines[i + 1:end]))
            directive = _DIRECTIVE.match(lines[i - 1]) if i else None
            if directive and directive.group(1) == "skip":
                if not directive.group(2):
                    raise ValueError(f"{page}:{i}: a skipped snippet needs a reason: <!-- snippet: skip REASON -->")
                snippet.skip = directive.group(2)
            elif directive:
                snippet.needs = tuple(m.strip() for m in directive.group(2).split(",") if m.strip())
            found.append(snippet)
            i = end + 1
            continue
        i += 1
    return found


def run_page(page: Path) -> None:
    """Run the page's snippets in order in one namespace (in this process)."""
    namespace: dict = {"__name__": "__main__"}
    for snippet in snippets(page):
        if snippet.skip or snippet.missing():
            continue
        # Padded so a traceback names the Markdown file and line.
        code = compile("\n" * (snippet.line - 1) + snippet.code, str(snippet.page), "exec")
        exec(code, namespace)  # noqa: S102 - running the docs is the point


if __name__ == "__main__":
    run_page(Path(sys.argv[1]).resolve())
