"""Reading the journal back: what each trial was when the experiment stopped.

The journal is append-only JSON lines. Records (``event`` field):

``experiment_started``  name, metric, mode, trainable, num_samples
``trial_added``         trial_id, tag, config (JSON view), config_pkl (base64 cloudpickle),
                        params, resources
``trial_started``       trial_id, attempt, path (the trial folder's name), restore
``checkpoint``          trial_id, path (checkpoint folder name), iteration, time_total_s
``checkpoint_dropped``  trial_id, path
``trial_exploited``     trial_id, tag, config, config_pkl, trial_dir, path (another trial's
                        checkpoint it starts from: PBT's exploit)
``trial_paused``        trial_id
``trial_failed``        trial_id, attempt, retry, error
``trial_finished``      trial_id, status ("TERMINATED" or "ERROR")
``experiment_restored`` changes
``experiment_finished`` interrupted

Paths are relative to the experiment folder, so a moved or copied experiment restores.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
import os
from typing import Any

import cloudpickle

from tunesmith.storage._lock import wait_for_writer

__all__ = ["ExperimentRecord", "TrialRecord", "encode_config", "read_journal", "replay"]

logger = logging.getLogger("tunesmith")


@dataclasses.dataclass
class TrialRecord:
    """A trial as the journal remembers it."""

    trial_id: str
    tag: str
    config: dict[str, Any]
    params: dict[str, Any]
    resources: dict[str, float]
    dirname: str | None = None
    status: str | None = None  # "TERMINATED" or "ERROR" once finished; None while unfinished
    num_failures: int = 0
    attempts: int = 0
    checkpoints: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    next_checkpoint_index: int = 0
    borrowed: tuple[str, str] | None = None  # (trial folder, checkpoint folder) of another trial, until its own


@dataclasses.dataclass
class ExperimentRecord:
    """The whole journal, replayed."""

    started: dict[str, Any]
    trials: dict[str, TrialRecord]
    finished: bool
    interrupted: bool


def encode_config(config: dict[str, Any]) -> str:
    return base64.b64encode(cloudpickle.dumps(config)).decode()


def _decode_config(record: dict[str, Any]) -> dict[str, Any]:
    blob = record.get("config_pkl")
    if blob:
        try:
            return cloudpickle.loads(base64.b64decode(blob))
        except Exception:
            logger.warning("could not unpickle the config of trial %s; using its JSON view", record["trial_id"])
    return record.get("config", {})


def read_journal(path: str) -> list[dict[str, Any]]:
    """Every intact record of the journal at ``path``.

    A line cut short by a crash (normally only the last) is skipped with a warning;
    everything before it is kept. If the driver that wrote it died and its log writer
    is still writing the trial files, this waits for the writer first.
    """
    wait_for_writer(os.path.dirname(path))
    records = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                logger.warning("journal %s: line %d is incomplete or corrupt and was skipped", path, number)
    return records


def replay(records: list[dict[str, Any]]) -> ExperimentRecord:
    """Fold the journal's records into the state each trial was in."""
    trials: dict[str, TrialRecord] = {}
    started: dict[str, Any] = {}
    finished = interrupted = False
    for record in records:
        event = record.get("event")
        trial = trials.get(record.get("trial_id", ""))
        if event == "experiment_started":
            # A new run under the same name starts over; only the latest run counts.
            started, trials, finished, interrupted = record, {}, False, False
        elif event == "trial_added":
            trials[record["trial_id"]] = TrialRecord(
                record["trial_id"], record.get("tag", ""), _decode_config(record),
                record.get("params", {}), record.get("resources", {"cpu": 1.0}),
            )
        elif trial is None:
            if event == "experiment_finished":
                finished, interrupted = True, bool(record.get("interrupted"))
            elif event == "experiment_restored":
                finished = interrupted = False
        else:
            _apply(trial, event, record)
    return ExperimentRecord(started, trials, finished, interrupted)


def _apply(trial: TrialRecord, event: str, record: dict[str, Any]) -> None:
    if event == "trial_started":
        trial.dirname = record.get("path") or trial.dirname
        trial.attempts = max(trial.attempts, record.get("attempt", 0) + 1)
        trial.status = None
    elif event == "trial_exploited":
        trial.config = _decode_config(record)
        trial.tag = record.get("tag", trial.tag)
        trial.borrowed = (record["trial_dir"], record["path"])
    elif event == "checkpoint":
        trial.borrowed = None
        suffix = str(record["path"]).rsplit("_", 1)[-1]
        if suffix.isdigit():
            trial.next_checkpoint_index = max(trial.next_checkpoint_index, int(suffix) + 1)
        trial.checkpoints.append(
            {"path": record["path"], "iteration": record.get("iteration"), "time_total_s": record.get("time_total_s")}
        )
    elif event == "checkpoint_dropped":
        trial.checkpoints = [c for c in trial.checkpoints if c["path"] != record["path"]]
    elif event == "trial_failed":
        trial.num_failures += 1
    elif event == "trial_finished":
        trial.status = record.get("status")
    elif event == "trial_reset":
        trial.status = None


def load_result_rows(trial_dir: str) -> list[dict[str, Any]]:
    """The intact rows of a trial's ``result.json`` (a torn last line is skipped)."""
    path = os.path.join(trial_dir, "result.json")
    if not os.path.exists(path):
        return []
    rows = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return rows
