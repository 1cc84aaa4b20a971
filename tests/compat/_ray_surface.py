"""Ray Tune 2.60's public surface (``ray_tune_2_60.json``) checked against tunesmith.

Ray paths map onto tunesmith's by one rule: ``ray.tune`` -> ``tunesmith``, ``ray.tune.X`` ->
``tunesmith.X``, and the ``ray.train`` names and ``ray`` calls a Tune program uses -> ``tunesmith``. What tunesmith
does not provide is listed in :data:`EXEMPT_MODULES`, :data:`EXEMPT_NAMES` and
:data:`EXEMPT_PARAMS`, each with its reason; ``docs/compatibility.md`` has the same rows.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import json
from pathlib import Path

MANIFEST = json.loads(Path(__file__).with_name("ray_tune_2_60.json").read_text(encoding="utf-8"))

_INTERNAL = "an internal of Ray's own controller on a Ray cluster"
EXEMPT_MODULES = {
    "ray.tune.automl": "an empty package in Ray 2.60",
    "ray.tune.constants": "Ray's environment variable names; tunesmith reads its own `TUNESMITH_*` variables",
    "ray.tune.execution.class_cache": _INTERNAL,
    "ray.tune.execution.cluster_info": _INTERNAL,
    "ray.tune.execution.experiment_state": _INTERNAL + " (its `experiment_state` snapshots; tunesmith has `journal.jsonl`)",
    "ray.tune.execution.insufficient_resources_manager": _INTERNAL,
    "ray.tune.execution.tune_controller": _INTERNAL + " (`TuneController`; tunesmith's `Controller` is not public)",
    "ray.tune.experiment.config_parser": "the argument parser of Ray's command line; no public names",
    "ray.tune.experimental": "Ray's console output engine (`AirVerbosity`); tunesmith has its own reporter",
    "ray.tune.experimental.output": "Ray's console output engine (`AirVerbosity`); tunesmith has its own reporter",
    "ray.tune.integration.ray_train": "reports from Ray Train workers; there is no Ray Train here",
    "ray.tune.logger.aim": "Aim is not supported; log with the MLflow, W&B or TensorBoard callbacks",
    "ray.tune.logger.comet": "no public names in Ray 2.60 (Comet's callback lives outside `ray.tune`)",
    "ray.tune.resources": "Ray's deprecated `Resources` class; use `PlacementGroupFactory` or a resource dict",
    "ray.tune.schedulers.pb2_utils": "the GPy model of Ray's PB2; tunesmith's PB2 uses scikit-learn",
    "ray.tune.schedulers.util": "no public names",
    "ray.tune.search.util": "no public names",
    "ray.tune.trainable.function_trainable": "a function trainable runs as it is in the trial process, not wrapped in a class",
    "ray.tune.trainable.metadata": "no public names",
    "ray.tune.utils.callback": "the default callback list of Ray's controller",
    "ray.tune.utils.file_transfer": "copies folders between Ray nodes",
    "ray.tune.utils.mock": "Ray's own test helpers (node failure injection)",
    "ray.tune.utils.object_cache": "Ray's actor cache",
    "ray.tune.utils.release_test_util": "Ray's release tests",
    "ray.tune.utils.resource_updater": "polls a Ray cluster's resources",
    "ray.tune.utils.serialization": "the JSON encoder of Ray's experiment snapshot; tunesmith writes `journal.jsonl`",
}

_RESUME = "only for `tune.run(resume_config=)`, which tunesmith refuses; `Tuner.restore` takes the same choices as arguments"
_RLLIB = "an RLlib registry category"
EXEMPT_NAMES = {
    "ray.tune.ResumeConfig": _RESUME,
    "ray.tune.tune_config.ResumeConfig": _RESUME,
    "ray.tune.experiment.trial.DEBUG_PRINT_INTERVAL": _INTERNAL,
    "ray.tune.experiment.trial.TRIAL_STATE_FILENAME": _INTERNAL,
    "ray.tune.experiment.trial.ExportFormat": "`export_formats` is not supported (`tune.run` says so)",
    "ray.tune.logger.tensorboardx.VALID_SUMMARY_TYPES": "the value types Ray's TensorBoard logger writes; tunesmith's decides per value",
    "ray.tune.progress_reporter.IS_NOTEBOOK": "Ray's reporter internals",
    "ray.tune.progress_reporter.RemoteReporterMixin": "Ray's reporter internals",
    "ray.tune.progress_reporter.SKIP_RESULTS_IN_REPORT": "Ray's reporter internals",
    "ray.tune.progress_reporter.TrialProgressCallback": "Ray's reporter internals",
    "ray.tune.registry.ENV_CREATOR": _RLLIB,
    "ray.tune.registry.KNOWN_CATEGORIES": _RLLIB,
    "ray.tune.registry.RLLIB_ACTION_DIST": _RLLIB,
    "ray.tune.registry.RLLIB_CONNECTOR": _RLLIB,
    "ray.tune.registry.RLLIB_INPUT": _RLLIB,
    "ray.tune.registry.RLLIB_MODEL": _RLLIB,
    "ray.tune.registry.RLLIB_PREPROCESSOR": _RLLIB,
    "ray.tune.registry.TEST": _RLLIB,
    "ray.tune.registry.TRAINABLE_CLASS": _RLLIB,
    "ray.tune.registry.register_input": _RLLIB,
    "ray.tune.registry.registry_contains_input": _RLLIB,
    "ray.tune.registry.registry_get_input": _RLLIB,
    "ray.tune.schedulers.pb2.import_pb2_dependencies": "imports GPy, which tunesmith's PB2 does not use",
    "ray.tune.search.basic_variant.SERIALIZATION_THRESHOLD": "Ray's object-store size warning",
    "ray.tune.search.hebo.hebo_search.SPACE_ERROR_MESSAGE": "Ray's message text",
    "ray.tune.search.hyperopt.hyperopt_search.HYPEROPT_UNDEFINED_DETAILS": "Ray's message text",
    "ray.tune.search.optuna.optuna_search.DEFINE_BY_RUN_WARN_THRESHOLD_S": "Ray's warning threshold",
    "ray.tune.trainable.FunctionTrainable": "a function trainable runs as it is in the trial process, not wrapped in a class",
    "ray.tune.trainable.wrap_function": "a function trainable runs as it is in the trial process, not wrapped in a class",
    "ray.tune.trainable.trainable.SETUP_TIME_THRESHOLD": "Ray's warning threshold",
    "ray.tune.utils.UtilMonitor": "not provided: Ray's CPU/GPU usage thread (`log_sys_usage`)",
    "ray.tune.utils.util.UtilMonitor": "not provided: Ray's CPU/GPU usage thread (`log_sys_usage`)",
    "ray.tune.utils.wait_for_gpu": "not provided: needs GPUtil; each trial gets its own `CUDA_VISIBLE_DEVICES`, freed when its process ends",
    "ray.tune.utils.util.wait_for_gpu": "not provided: needs GPUtil; each trial gets its own `CUDA_VISIBLE_DEVICES`, freed when its process ends",
    "ray.tune.utils.log.disable_ipython": "Ray's global output setting; tunesmith takes `RunConfig(verbose=)`",
    "ray.tune.utils.log.has_verbosity": "Ray's global output setting; tunesmith takes `RunConfig(verbose=)`",
    "ray.tune.utils.log.set_verbosity": "Ray's global output setting; tunesmith takes `RunConfig(verbose=)`",
    "ray.tune.utils.util.START_OF_TIME": "Ray's internal",
    "ray.tune.utils.util.Tee": "Ray's internal (log capture)",
    "ray.tune.utils.util.retry_fn": "Ray's internal (retries remote calls)",
    "ray.tune.utils.util.validate_warmstart": "Ray's internal (searcher argument checks)",
}

_DEPRECATED = "deprecated in Ray 2.60 (passing it raises there)"
EXEMPT_PARAMS = {  # keyed by the object's name, wherever Ray exports it
    "Result.metrics_dataframe": "a `Result` is made by Tune; `metrics_dataframe` is a property read from `progress.csv`",
    "RunConfig.local_dir": _DEPRECATED,
    "TuneConfig.chdir_to_trial_dir": _DEPRECATED,
    "report.checkpoint_dir_name": "Ray Train's `report` (Ray Tune's has no such argument)",
    **{f"Trial.{p}": "trials are made by the controller, not by programs" for p in (
        "storage", "stopping_criterion", "checkpoint_config", "export_formats", "restore_path", "trial_name_creator",
        "trial_dirname_creator", "log_to_file", "max_failures", "stub")},
}


def tunesmith_path(ray_path: str) -> str:
    if ray_path in ("ray", "ray.tune", "ray.train"):
        return "tunesmith"
    return "tunesmith" + ray_path[len("ray.tune"):]


def import_module(ray_path: str):
    """tunesmith's module at Ray's path; None when it needs a framework that is not installed."""
    try:
        return importlib.import_module(tunesmith_path(ray_path))
    except ModuleNotFoundError:
        raise
    except ImportError as error:  # e.g. keras without its backend: the path exists, the framework does not
        if "pip install" in str(error):
            return None
        raise


def accepted_keywords(obj) -> tuple[set[str], bool]:
    """The keyword names ``obj`` takes, and whether it takes ``**kwargs``."""
    try:
        signature = inspect.signature(obj)
    except ValueError:
        if inspect.isclass(obj) and issubclass(obj, BaseException):  # BaseException's own __init__(*args)
            return set(), True
        raise
    names = {p.name for p in signature.parameters.values() if p.kind is not p.POSITIONAL_ONLY}
    if inspect.isclass(obj) and dataclasses.is_dataclass(obj):
        names |= {f.name for f in dataclasses.fields(obj)}
    return names, any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())


def coverage() -> dict[str, tuple[int, int]]:
    """(provided, total) for module paths, names and parameters."""
    paths, names, params = [0, 0], [0, 0], [0, 0]
    for ray_path, members in MANIFEST["modules"].items():
        paths[1] += 1
        names[1] += len(members)
        params[1] += sum(len(p or ()) for p in members.values())
        if ray_path in EXEMPT_MODULES:
            continue
        paths[0] += 1
        for name, wanted in members.items():
            if f"{ray_path}.{name}" in EXEMPT_NAMES:
                continue
            names[0] += 1
            params[0] += sum(f"{name}.{p}" not in EXEMPT_PARAMS for p in wanted or ())
    return {"module paths": tuple(paths), "names": tuple(names), "parameters": tuple(params)}


def coverage_line() -> str:
    parts = [f"{kind} {got}/{total}" for kind, (got, total) in coverage().items()]
    return f"Ray Tune {MANIFEST['ray_version']} surface in tunesmith: " + ", ".join(parts)


def exemption_rows() -> list[str]:
    """The table rows ``docs/compatibility.md`` must have, one per exemption."""
    rows = [f"| `{path}` | module | {reason} |" for path, reason in EXEMPT_MODULES.items()]
    rows += [f"| `{path}` | name | {reason} |" for path, reason in EXEMPT_NAMES.items()]
    rows += [f"| `{key}=` | parameter | {reason} |" for key, reason in EXEMPT_PARAMS.items()]
    return rows


def sync_docs(root: Path) -> None:
    """Write the exemption rows into ``docs/compatibility.md`` and the coverage line into ``README.md``."""
    import re

    docs = root / "docs" / "compatibility.md"
    text = docs.read_text(encoding="utf-8")
    head = "| Ray Tune | What | Why not here |\n|---|---|---|\n"
    start = text.index(head) + len(head)
    docs.write_text(text[:start] + "\n".join(exemption_rows()) + text[text.index("\n\n", start):], encoding="utf-8")
    readme = root / "README.md"
    text = re.sub(r"Ray Tune [\d.]+ surface in tunesmith: [^\n]*\.\n", coverage_line() + ".\n",
                  readme.read_text(encoding="utf-8"))
    readme.write_text(text, encoding="utf-8")


if __name__ == "__main__":  # after changing an exemption: python tests/compat/_ray_surface.py
    sync_docs(Path(__file__).parents[2])
