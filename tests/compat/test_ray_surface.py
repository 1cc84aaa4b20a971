"""Every module path, name and keyword of Ray Tune 2.60 works in tunesmith, or is an exemption with a reason."""

import importlib
import re
from pathlib import Path

import pytest
from _ray_surface import (
    EXEMPT_MODULES,
    EXEMPT_NAMES,
    EXEMPT_PARAMS,
    MANIFEST,
    accepted_keywords,
    coverage_line,
    exemption_rows,
    import_module,
    tunesmith_path,
)

ROOT = Path(__file__).parents[2]
# The framework callbacks import their framework (Lightning alone takes ~30 s here).
MODULES = [pytest.param(p, marks=pytest.mark.slow) if p.startswith("ray.tune.integration.") else p
           for p in sorted(MANIFEST["modules"])]


def test_manifest_is_ray_2_60_and_complete():
    assert MANIFEST["ray_version"] == "2.60.0"
    for path in ("ray.tune", "ray.tune.search.basic_variant", "ray.tune.utils.mock_trainable", "ray.train"):
        assert path in MANIFEST["modules"]
    assert "metric" in MANIFEST["modules"]["ray.tune"]["TuneConfig"]


@pytest.mark.parametrize("ray_path", MODULES)
def test_module_path_imports(ray_path):
    if ray_path in EXEMPT_MODULES:
        with pytest.raises(ModuleNotFoundError):
            importlib.import_module(tunesmith_path(ray_path))
        return
    import_module(ray_path)


@pytest.mark.parametrize("ray_path", [p for p in MODULES if getattr(p, "values", [p])[0] not in EXEMPT_MODULES])
def test_every_name_resolves_and_takes_rays_keywords(ray_path):
    module = import_module(ray_path)
    if module is None:
        pytest.skip(f"{tunesmith_path(ray_path)} needs a framework that is not installed here")
    missing, stale, refused = [], [], []
    for name, params in MANIFEST["modules"][ray_path].items():
        exempt = f"{ray_path}.{name}" in EXEMPT_NAMES
        if not hasattr(module, name):
            missing += [] if exempt else [name]
            continue
        stale += [name] if exempt else []
        if not params or not callable(getattr(module, name)):
            continue
        accepted, var_keyword = accepted_keywords(getattr(module, name))
        for param in params:
            key = f"{name}.{param}"
            if key in EXEMPT_PARAMS:
                stale += [key] if param in accepted else []
            elif param not in accepted and not var_keyword:
                refused.append(key)
    assert not missing, f"{tunesmith_path(ray_path)} lacks {missing}"
    assert not refused, f"{tunesmith_path(ray_path)}: these do not take Ray's keywords: {refused}"
    assert not stale, f"exempted but provided now (remove the exemption): {stale}"


def test_exemptions_are_documented_row_for_row():
    docs = (ROOT / "docs" / "compatibility.md").read_text(encoding="utf-8")
    missing = [row for row in exemption_rows() if row not in docs]
    assert not missing, "docs/compatibility.md lacks these rows:\n" + "\n".join(missing)


def test_exemptions_name_rays_real_surface():
    for path in EXEMPT_MODULES:
        assert path in MANIFEST["modules"], path
    for path in EXEMPT_NAMES:
        module, name = path.rsplit(".", 1)
        assert name in MANIFEST["modules"][module], path
    all_params = {f"{n}.{p}" for members in MANIFEST["modules"].values() for n, ps in members.items() for p in ps or ()}
    assert set(EXEMPT_PARAMS) <= all_params


def test_coverage_is_printed_in_readme(capsys):
    line = coverage_line()
    print(line)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert line in readme, f"README.md should say: {line}"
    assert re.search(r"module paths \d+/\d+", capsys.readouterr().out)
