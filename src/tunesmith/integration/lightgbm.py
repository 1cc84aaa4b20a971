"""LightGBM callbacks that report each boosting round to Tune (``ray.tune.integration.lightgbm``).

Pass :class:`TuneReportCheckpointCallback` to ``lightgbm.train(..., callbacks=[...])`` (or
to ``LGBMClassifier.fit``): every round becomes one ``training_iteration`` whose metrics
are the validation results, named ``<valid set>-<metric>`` as in Ray Tune
(``"valid_0-binary_logloss"``; under ``lightgbm.cv`` ``"valid-binary_logloss-mean"`` and
``"-stdv"``). When a scheduler or stopper stops the trial, ``tunesmith.report`` raises
inside the callback and training ends at that round.

Importing this module imports LightGBM; without it the import fails with
``pip install "tunesmith[lightgbm]"``.

Difference from Ray Tune: ``TuneReportCallback`` raises a ``DeprecationWarning`` in Ray
Tune; here it keeps working (it reports and never checkpoints) and warns with a
``FutureWarning``.

Example:
    >>> import lightgbm as lgb
    >>> from sklearn.datasets import load_breast_cancer
    >>> from tunesmith.integration.lightgbm import TuneReportCheckpointCallback
    >>> x, y = load_breast_cancer(return_X_y=True)
    >>> data = lgb.Dataset(x, label=y)
    >>> booster = lgb.train({"objective": "binary", "verbose": -1}, data, num_boost_round=2,
    ...                     valid_sets=[data], valid_names=["eval"],
    ...                     callbacks=[TuneReportCheckpointCallback({"loss": "eval-binary_logloss"})])
"""

from __future__ import annotations

import os
from typing import Any, Sequence

from tunesmith._checkpoint import Checkpoint
from tunesmith._imports import try_import
from tunesmith.integration._report import (
    BoostingReporter,
    MetricsArg,
    PostprocessFn,
    warn_report_callback_deprecated,
)

lgb = try_import("lightgbm", extra="lightgbm", needed_by="tunesmith.integration.lightgbm")

__all__ = ["TuneCallback", "TuneReportCallback", "TuneReportCheckpointCallback"]

_DEFAULT_FILENAME = "model.txt"


def flatten_evaluation(evaluation_result_list: Sequence[tuple[Any, ...]]) -> dict[str, Any]:
    """LightGBM's ``env.evaluation_result_list`` as ``{"<data>-<metric>": value}``.

    Args:
        evaluation_result_list: Tuples ``(data, metric, value, higher_is_better)``; under
            ``lightgbm.cv`` a fifth item, the standard deviation, follows.

    Returns:
        ``{"valid_0-l2": 0.3}``, or ``{"valid-l2-mean": 0.3, "valid-l2-stdv": 0.01}`` for cv.
    """
    flat: dict[str, Any] = {}
    for entry in evaluation_result_list:
        data_name, metric_name, value = entry[0], entry[1], entry[2]
        if len(entry) > 4:
            flat[f"{data_name}-{metric_name}-mean"] = value
            flat[f"{data_name}-{metric_name}-stdv"] = entry[4]
        else:
            flat[f"{data_name}-{metric_name}"] = value
    return flat


class TuneCallback:
    """Base class of the tunesmith LightGBM callbacks.

    LightGBM runs the callbacks of each round sorted by ``order``; 20 runs after the
    built-in logging and recording callbacks and before ``early_stopping`` (30), so the
    round on which early stopping fires is still reported.
    """

    order = 20
    before_iteration = False


class TuneReportCheckpointCallback(TuneCallback, BoostingReporter):
    """Report each boosting round to Tune and save the booster as a checkpoint.

    Args:
        metrics: Which validation results to report: None for all, a name such as
            ``"valid_0-binary_logloss"``, a list of names, or ``{reported_name: lightgbm_name}``.
        filename: File name of the booster (LightGBM's text format) inside each checkpoint.
        frequency: Save a checkpoint every this many rounds; 0 saves none during training.
        checkpoint_at_end: Save a checkpoint at the last round (``num_boost_round``).
        results_postprocessing_fn: Called with the dict about to be reported; what it
            returns is reported instead.

    Raises:
        TypeError: ``metrics`` has an unaccepted shape.
        ValueError: ``frequency`` is negative or ``filename`` is empty.
    """

    def __init__(
        self,
        metrics: MetricsArg = None,
        filename: str = _DEFAULT_FILENAME,
        frequency: int = 0,
        checkpoint_at_end: bool = True,
        results_postprocessing_fn: PostprocessFn | None = None,
    ) -> None:
        self._configure(metrics, filename, frequency, checkpoint_at_end, results_postprocessing_fn)

    @classmethod
    def get_model(cls, checkpoint: Checkpoint, filename: str = _DEFAULT_FILENAME) -> Any:
        """Load the booster saved in ``checkpoint``.

        Args:
            checkpoint: A checkpoint written by this callback (``result.checkpoint``).
            filename: The ``filename`` the callback was created with.

        Returns:
            A ``lightgbm.Booster``.
        """
        with checkpoint.as_directory() as folder:
            return lgb.Booster(model_file=os.path.join(folder, filename))

    def _report_dict(self, env: Any) -> dict[str, Any]:
        return self._picked(flatten_evaluation(env.evaluation_result_list or []), "the LightGBM evaluation results")

    def _should_checkpoint(self, env: Any) -> bool:
        at_end = self._checkpoint_at_end and env.iteration == env.end_iteration - 1
        periodic = self._frequency > 0 and (env.iteration + 1) % self._frequency == 0
        return at_end or periodic

    def __call__(self, env: Any) -> None:
        """Called by LightGBM after each round with its ``CallbackEnv``."""
        self._report(env.model, self._report_dict(env), save=self._should_checkpoint(env))


class TuneReportCallback(TuneReportCheckpointCallback):
    """Deprecated: report each round without checkpoints.

    Use ``TuneReportCheckpointCallback(metrics, frequency=0, checkpoint_at_end=False)``.
    Ray Tune raises when this class is created; tunesmith keeps it working and warns.
    """

    def __init__(self, metrics: MetricsArg = None, results_postprocessing_fn: PostprocessFn | None = None) -> None:
        warn_report_callback_deprecated(__name__)
        super().__init__(metrics, frequency=0, checkpoint_at_end=False,
                         results_postprocessing_fn=results_postprocessing_fn)
