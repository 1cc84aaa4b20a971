"""The examples in the docstrings run, module by module, as the API reference shows them."""

import doctest
import importlib
import os
import pkgutil

import pytest

import tunesmith

os.environ.setdefault("KERAS_BACKEND", "torch")  # keras's default backend, tensorflow, is not a test dependency


def _modules_with_examples() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(tunesmith.__path__, "tunesmith."):
        spec = importlib.util.find_spec(info.name)
        if spec and spec.origin and spec.origin.endswith(".py"):
            with open(spec.origin, encoding="utf-8") as f:
                if ">>> " in f.read():
                    names.append(info.name)
    return sorted(names)


@pytest.mark.slow
@pytest.mark.parametrize("name", _modules_with_examples())
def test_the_docstring_examples_of_a_module_run(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples may write results next to them
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in finder.find(module, name):
        runner.run(test)
    failed, attempted = runner.summarize(verbose=False)
    assert failed == 0, f"{failed} of {attempted} docstring examples of {name} failed (output above)"
