"""XGBoost callbacks that report each boosting round to Tune (``ray.tune.integration.xgboost``).

Pass :class:`TuneReportCheckpointCallback` to ``xgboost.train(..., callbacks=[...])`` (or to
an ``XGBClassifier``/``XGBRegressor``): every round becomes one ``training_iteration``
whose metrics are the evaluation results, named ``<eval set>-<metric>`` as in Ray Tune
(``"eval-logloss"``). When a scheduler or stopper stops the trial, ``tunesmith.report``
raises inside the callback and training ends at that round.

Importing this module imports XGBoost; without it the import fails with
``pip install "tunesmith[xgboost]"``.

Differences from Ray Tune: ``TuneReportCallback`` raises a ``DeprecationWarning`` in Ray
Tune; here it keeps working (it reports and never checkpoints) and warns with a
``FutureWarning``. ``xgboost.cv`` results (a mean and a standard deviation per metric) are
reported as ``<name>-mean`` and ``<name>-std``, and nothing is checkpointed there (``cv``
trains one booster per fold, not one model).

Example:
    >>> import xgboost as xgb
    >>> from sklearn.datasets import load_breast_cancer
    >>> from tunesmith.integration.xgboost import TuneReportCheckpointCallback
    >>> x, y = load_breast_cancer(return_X_y=True)
    >>> data = xgb.DMatrix(x, label=y)
    >>> booster = xgb.train({"objective": "binary:logistic", "eval_metric": "logloss"}, data,
    ...                     num_boost_round=2, evals=[(data, "eval")], verbose_eval=False,
    ...                     callbacks=[TuneReportCheckpointCallback(metrics={"loss": "eval-logloss"})])
"""

from __future__ import annotations

import os
from typing import Any, Mapping

from tunesmith._checkpoint import Checkpoint
from tunesmith._imports import try_import
from tunesmith.integration._report import (
    BoostingReporter,
    MetricsArg,
    PostprocessFn,
    warn_report_callback_deprecated,
)

xgb = try_import("xgboost", extra="xgboost", needed_by="tunesmith.integration.xgboost")

__all__ = ["TuneCallback", "TuneReportCallback", "TuneReportCheckpointCallback"]

_DEFAULT_FILENAME = "model.ubj"


def flatten_evals_log(evals_log: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The latest value of each metric, as ``{"<eval set>-<metric>": value}``.

    Args:
        evals_log: XGBoost's history, ``{"eval": {"logloss": [0.6, 0.5]}}``; under
            ``xgboost.cv`` each entry is a ``(mean, std)`` pair.

    Returns:
        ``{"eval-logloss": 0.5}``, or ``{"test-logloss-mean": .., "test-logloss-std": ..}``
        for ``xgboost.cv``.
    """
    flat: dict[str, Any] = {}
    for data_name, metrics in evals_log.items():
        for metric_name, history in metrics.items():
            latest = history[-1] if len(history) else None
            key = f"{data_name}-{metric_name}"
            if isinstance(latest, tuple):
                flat[f"{key}-mean"], flat[f"{key}-std"] = (float(v) for v in latest)
            else:
                flat[key] = latest
    return flat


def _is_booster(model: Any) -> bool:
    """False under ``xgboost.cv``, whose callbacks see the folds' boosters packed together."""
    return isinstance(model, xgb.Booster)


class TuneCallback(xgb.callback.TrainingCallback):
    """Base class of the tunesmith XGBoost callbacks (an ``xgboost.callback.TrainingCallback``)."""


class TuneReportCheckpointCallback(TuneCallback, BoostingReporter):
    """Report each boosting round to Tune and save the booster as a checkpoint.

    Args:
        metrics: Which evaluation results to report: None for all, a name such as
            ``"eval-logloss"``, a list of names, or ``{reported_name: xgboost_name}``.
        filename: File name of the booster inside each checkpoint; the extension picks
            XGBoost's format (``.ubj``, ``.json``).
        frequency: Save a checkpoint every this many rounds; 0 saves none during training.
        checkpoint_at_end: Save a checkpoint when training ends (and report the last
            metrics again with it), unless the last round was just checkpointed.
        results_postprocessing_fn: Called with the dict about to be reported; what it
            returns is reported instead (e.g. to add a derived metric).

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
        super().__init__()
        self._configure(metrics, filename, frequency, checkpoint_at_end, results_postprocessing_fn)
        self._evals_log: Mapping[str, Any] | None = None
        self._checkpointed_rounds: int | None = None  # the booster's size at the last checkpoint

    @classmethod
    def get_model(cls, checkpoint: Checkpoint, filename: str = _DEFAULT_FILENAME) -> Any:
        """Load the booster saved in ``checkpoint``.

        Args:
            checkpoint: A checkpoint written by this callback (``result.checkpoint``).
            filename: The ``filename`` the callback was created with.

        Returns:
            An ``xgboost.Booster``.
        """
        booster = xgb.Booster()
        with checkpoint.as_directory() as folder:
            booster.load_model(os.path.join(folder, filename))
        return booster

    def _report_dict(self, evals_log: Mapping[str, Any] | None) -> dict[str, Any]:
        return self._picked(flatten_evals_log(evals_log or {}), "the XGBoost evaluation results")

    def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
        """Report round ``epoch`` (0-based, in this ``train`` call); checkpoint every ``frequency`` rounds."""
        self._evals_log = evals_log
        save = self._frequency > 0 and (epoch + 1) % self._frequency == 0 and _is_booster(model)
        if save:
            self._checkpointed_rounds = model.num_boosted_rounds()
        self._report(model, self._report_dict(evals_log), save=save)
        return False  # never ask XGBoost to stop; Tune stops a trial by raising

    def after_training(self, model: Any) -> Any:
        """Save the final booster, unless it was checkpointed at its last round."""
        if not self._checkpoint_at_end or not _is_booster(model) or self._evals_log is None:
            return model  # (no round ran: a restored booster with nothing left to train is already saved)
        # Compared by size: ``epoch`` restarts at 0 when training continues an ``xgb_model``.
        if self._checkpointed_rounds == model.num_boosted_rounds():
            return model
        self._report(model, self._report_dict(self._evals_log), save=True)
        return model


class TuneReportCallback(TuneReportCheckpointCallback):
    """Deprecated: report each round without checkpoints.

    Use ``TuneReportCheckpointCallback(metrics, frequency=0, checkpoint_at_end=False)``.
    Ray Tune raises when this class is created; tunesmith keeps it working and warns.
    """

    def __init__(self, metrics: MetricsArg = None, results_postprocessing_fn: PostprocessFn | None = None) -> None:
        warn_report_callback_deprecated(__name__)
        super().__init__(metrics, frequency=0, checkpoint_at_end=False,
                         results_postprocessing_fn=results_postprocessing_fn)
