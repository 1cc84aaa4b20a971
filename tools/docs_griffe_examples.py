"""Griffe extension for the API reference: a Google ``Example:`` section is rendered as code.

tunesmith's docstrings head their doctests ``Example:`` (as the Google style guide does);
griffe reads only ``Examples:`` as doctests and shows ``Example:`` as a note whose ``>>>``
lines become Markdown text. This extension renames the heading before griffe parses the
docstring, so both render as code. Wired in ``mkdocs.yml`` (mkdocstrings' ``extensions``).
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_HEADING = re.compile(r"^(\s*)Example:[ \t]*$", re.MULTILINE)


class ExampleSections(griffe.Extension):
    """Rename ``Example:`` section headings to ``Examples:`` in every loaded docstring."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:  # noqa: D102
        if obj.docstring is not None:
            obj.docstring.value = _HEADING.sub(r"\1Examples:", obj.docstring.value)
