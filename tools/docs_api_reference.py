"""MkDocs hook: the API reference, generated from the package's own ``__all__`` lists.

Every public module of tunesmith (no path component starting with ``_``) that defines
``__all__`` gets one page, ``reference/<module>.md``, with one mkdocstrings entry per name
in its ``__all__``: a name added to ``__all__`` appears on the site without a docs edit,
and a public name that mkdocstrings cannot resolve fails the strict build. ``__all__`` is
read with ``ast`` (nothing is imported), so optional libraries need not be installed.

Wired in ``mkdocs.yml`` (``hooks:``); ``public_modules()`` is also used by the tests.
"""

from __future__ import annotations

import ast
import logging
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_DIR = ROOT / "src" / "tunesmith"
REFERENCE_DIR = "reference"

log = logging.getLogger("mkdocs.hooks.api_reference")


def _module_name(path: Path) -> str | None:
    parts = list(path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    if any(part.startswith("_") for part in parts):
        return None
    return ".".join(parts)


def _literal_all(path: Path) -> list[str] | None:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets) and node.value is not None:
            return [str(name) for name in ast.literal_eval(node.value)]
    return None


def public_modules() -> dict[str, list[str]]:
    """Return each public module's name mapped to its ``__all__``, sorted by module name."""
    modules = {}
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        name = _module_name(path)
        if name is None:
            continue
        names = _literal_all(path)
        if names is not None:
            modules[name] = names
    return dict(sorted(modules.items()))


def page_path(module: str) -> str:
    """Return the reference page's path (relative to ``docs/``) for ``module``."""
    return f"{REFERENCE_DIR}/{module}.md"


def _page(module: str, names: list[str]) -> str:
    lines = [f"# `{module}`", ""]
    doc = f"::: {module}\n    options:\n      members: false\n      show_root_heading: false\n      show_root_toc_entry: false\n"
    lines.append(doc)
    if not names:
        lines.append("This module exports no names of its own.")
    for name in names:
        lines.append(f"::: {module}.{name}\n    options:\n      show_root_full_path: false\n")
    return "\n".join(lines) + "\n"


def _index(modules: dict[str, list[str]]) -> str:
    lines = [
        "# API reference",
        "",
        "Generated from each public module's `__all__`. Every name is documented at the path",
        "Ray Tune users know (`ray.tune.schedulers.ASHAScheduler` is",
        "`tunesmith.schedulers.ASHAScheduler`); the top-level `tunesmith` module re-exports the",
        "names of `ray.tune`.",
        "",
        "| module | public names |",
        "|---|---|",
    ]
    for module, names in modules.items():
        shown = ", ".join(f"`{n}`" for n in names[:8]) + (", ..." if len(names) > 8 else "")
        lines.append(f"| [`{module}`]({module}.md) | {shown} |")
    return "\n".join(lines) + "\n"


def undocumented(modules: dict[str, list[str]]) -> list[str]:
    """Return the public classes and functions (``module.name``) that have no docstring.

    Read statically with griffe (what mkdocstrings renders), so nothing is imported.
    """
    import griffe

    package = griffe.load("tunesmith", search_paths=[str(PACKAGE_DIR.parent)], allow_inspection=False)
    found = []
    for module, names in modules.items():
        base = module.removeprefix("tunesmith").lstrip(".")
        for name in names:
            try:
                target = package[f"{base}.{name}" if base else name]
                target = target.final_target if target.is_alias else target
            except (KeyError, griffe.AliasResolutionError, griffe.CyclicAliasError):
                continue  # not statically resolvable: mkdocstrings reports it as an error
            if target.kind in (griffe.Kind.CLASS, griffe.Kind.FUNCTION) and not target.docstring:
                found.append(f"{module}.{name}")
    return found


def on_files(files, config):  # noqa: D103 - MkDocs hook
    from mkdocs.structure.files import File

    modules = public_modules()
    for name in undocumented(modules):
        log.warning("public name without a docstring: %s (add one; the API reference shows it)", name)
    generated = {f"{REFERENCE_DIR}/index.md": _index(modules)}
    generated.update({page_path(m): _page(m, names) for m, names in modules.items()})
    for path, content in generated.items():
        files.append(File.generated(config, path, content=content))
    benchmarks = ROOT / "BENCHMARKS.md"
    files.append(File.generated(config, "benchmarks.md", content=benchmarks.read_text(encoding="utf-8")))
    log.info("API reference: %d modules, %d names", len(modules), sum(map(len, modules.values())))
    return files


def on_nav(nav, config, files):  # noqa: D103 - MkDocs hook
    from mkdocs.structure.nav import Section
    from mkdocs.structure.pages import Page

    for item in nav.items:
        if isinstance(item, Section) and item.title == "API reference":
            for module in public_modules():
                file = files.get_file_from_path(page_path(module))
                item.children.append(Page(module, file, config))
    return nav
