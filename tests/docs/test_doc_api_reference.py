"""The API reference: generated from every public module's ``__all__``, and each name documented."""

import importlib
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
import docs_api_reference as reference  # noqa: E402

MODULES = reference.public_modules()


def test_the_ray_tune_paths_are_public_modules():
    for module in ("tunesmith", "tunesmith.schedulers", "tunesmith.search", "tunesmith.search.optuna",
                   "tunesmith.stopper", "tunesmith.integration.mlflow", "tunesmith.execution"):
        assert module in MODULES
    assert not [m for m in MODULES if any(part.startswith("_") for part in m.split("."))]


@pytest.mark.parametrize("module", MODULES)
def test_every_public_name_has_an_entry_on_its_module_page(module):
    page = reference._page(module, MODULES[module])
    for name in MODULES[module]:
        assert f"::: {module}.{name}\n" in page
    assert f"[`{module}`]({module}.md)" in reference._index(MODULES)


def test_every_public_class_and_function_has_a_docstring():
    pytest.importorskip("griffe")
    assert reference.undocumented(MODULES) == []


# The framework integrations import their framework (seconds each).
@pytest.mark.parametrize("module", [
    pytest.param(m, marks=[pytest.mark.slow] if m.startswith("tunesmith.integration.") else []) for m in MODULES
])
def test_every_name_in_all_exists(module):
    try:
        imported = importlib.import_module(module)
    except ImportError as error:  # an integration whose library is not installed here
        pytest.skip(str(error)[:100])
    assert [name for name in MODULES[module] if not hasattr(imported, name)] == []
