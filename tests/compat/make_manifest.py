"""Write ``ray_tune_2_60.json``: Ray Tune's public surface, read from Ray's source with ``ast``.

Run it against an installed (or unpacked) ``ray`` wheel; Ray is not imported::

    python tests/compat/make_manifest.py [path/to/site-packages/ray]

Public module paths are the modules and packages under ``ray/tune`` with no path part that
starts with ``_`` and none of ``impl``, ``tests``, ``examples``. A module's public names are its
``__all__`` or, without one, the classes, functions and UPPER_CASE constants it defines whose
names do not start with ``_``. A callable's parameters are a function's, or a class's
``__init__`` (its own, else its nearest base's that can be read here), or a dataclass's fields;
``self``, ``*args`` and ``**kwargs`` are left out. ``ray.train`` contributes the names a Tune
program imports from it (:data:`TRAIN_NAMES`), ``ray`` the calls it makes (:data:`RAY_NAMES`).
"""

from __future__ import annotations

import ast
import importlib.util
import json
import sys
from pathlib import Path

SKIPPED_PARTS = {"impl", "tests", "examples", "cli"}
TRAIN_NAMES = ("Checkpoint", "CheckpointConfig", "FailureConfig", "Result", "RunConfig", "SyncConfig",
               "get_checkpoint", "get_context", "report")
RAY_NAMES = ("available_resources", "cluster_resources", "get_gpu_ids", "init", "is_initialized", "shutdown")
OUT = Path(__file__).with_name("ray_tune_2_60.json")


class Source:
    """Ray's modules as ``ast`` trees, with a resolver for imported names."""

    def __init__(self, ray_dir: Path) -> None:
        self.root = ray_dir.parent
        self.trees: dict[str, ast.Module] = {}

    def tree(self, module: str) -> ast.Module | None:
        if module not in self.trees:
            base = self.root.joinpath(*module.split("."))
            for path in (base.with_suffix(".py"), base / "__init__.py"):
                if path.is_file():
                    self.trees[module] = ast.parse(path.read_text(encoding="utf-8"))
                    break
            else:
                return None
        return self.trees[module]

    def definition(self, module: str, name: str, depth: int = 0) -> tuple[str, ast.AST] | None:
        """The node that defines ``module.name``, following ``from x import name`` chains."""
        tree = self.tree(module)
        if tree is None or depth > 10:
            return None
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == name:
                return module, node
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    if (alias.asname or alias.name) == name:
                        found = self.definition(node.module, alias.name, depth + 1)
                        if found is not None:
                            return found
        return None


def public_modules(ray_dir: Path) -> list[str]:
    tune = ray_dir / "tune"
    modules = []
    for path in sorted(tune.rglob("*.py")):
        parts = path.relative_to(ray_dir.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if any(p.startswith("_") or p in SKIPPED_PARTS for p in parts):
            continue
        modules.append(".".join(parts))
    return modules


def public_names(tree: ast.Module) -> list[str]:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            return sorted({elt.value for elt in node.value.elts
                           if isinstance(elt, ast.Constant) and not elt.value.startswith("_")})
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            if isinstance(node.value, ast.Call) and ast.unparse(node.value.func).endswith("TypeVar"):
                continue
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name) and t.id.isupper())
    return sorted(n for n in names if not n.startswith("_"))


def function_params(node: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    args = node.args
    names = [a.arg for a in args.posonlyargs + args.args + args.kwonlyargs]
    return [n for n in names if n not in ("self", "cls") and not n.startswith("_")]


def _is_dataclass(node: ast.ClassDef) -> bool:
    for deco in node.decorator_list:
        target = deco.func if isinstance(deco, ast.Call) else deco
        name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
        if name == "dataclass":
            return True
    return False


def class_params(source: Source, module: str, node: ast.ClassDef, depth: int = 0) -> list[str] | None:
    for item in node.body:
        if isinstance(item, ast.FunctionDef) and item.name == "__init__":
            return function_params(item)
    fields: list[str] = []
    if _is_dataclass(node):
        fields = [item.target.id for item in node.body
                  if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)
                  and not item.target.id.startswith("_") and "ClassVar" not in ast.unparse(item.annotation)]
    for base in node.bases:
        if depth > 10 or not isinstance(base, ast.Name):
            continue
        found = source.definition(module, base.id)
        if found is not None and isinstance(found[1], ast.ClassDef):
            inherited = class_params(source, found[0], found[1], depth + 1)
            if inherited is not None:
                return [*inherited, *[f for f in fields if f not in inherited]] if fields else inherited
    return fields or ([] if _is_dataclass(node) else None)


def params_of(source: Source, module: str, name: str) -> list[str] | None:
    found = source.definition(module, name)
    if found is None:
        return None
    where, node = found
    if isinstance(node, ast.ClassDef):
        return class_params(source, where, node)
    return function_params(node)


def manifest(ray_dir: Path) -> dict:
    source = Source(ray_dir)
    modules: dict[str, dict[str, list[str] | None]] = {}
    for module in public_modules(ray_dir):
        tree = source.tree(module)
        modules[module] = {name: params_of(source, module, name) for name in public_names(tree)}
    modules["ray.train"] = {name: params_of(source, "ray.train", name) for name in TRAIN_NAMES}
    modules["ray"] = {name: params_of(source, "ray", name) for name in RAY_NAMES}
    version = next((n.value.value for n in source.tree("ray._version").body if isinstance(n, ast.Assign)
                    and any(getattr(t, "id", "") == "version" for t in n.targets)
                    and isinstance(n.value, ast.Constant)), None)
    return {"ray_version": version, "modules": modules}


def main(argv: list[str]) -> None:
    if argv:
        ray_dir = Path(argv[0])
    else:
        spec = importlib.util.find_spec("ray")  # finds the package without importing it
        if spec is None or spec.origin is None:
            raise SystemExit("ray is not installed; pass the path of an unpacked ray wheel's 'ray' folder")
        ray_dir = Path(spec.origin).parent
    OUT.write_text(json.dumps(manifest(ray_dir), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main(sys.argv[1:])
