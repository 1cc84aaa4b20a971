"""The controller: one thread, one loop, driving trials from suggestion to result.

Each loop step is a named method: create trials, start trials, handle what the trials
said, enforce stop deadlines, report progress. The controller is the only code that
changes trial state; algorithms see trials and results, executors see attempts.
"""

from __future__ import annotations

import dataclasses
import math
import signal
import sys
import threading
import time
import traceback
from typing import Any


from tunesmith import _protocol, _settings
from tunesmith._checkpoint import Checkpoint
from tunesmith._flatten import flatten_dict
from tunesmith._result_keys import AUTO_FILLED
from tunesmith.callback import CallbackList
from tunesmith.error import TrialError, TrialLostError, TuneError
from tunesmith.execution._executor import AttemptHandle, Executor
from tunesmith.execution._retired import RetiredTrials, empty_final_result
from tunesmith.execution._scheduling import SchedulingCore
from tunesmith.execution._server import EventKind, TrialEvent, TrialServer
from tunesmith.experiment._trial import FinishedTrial, Trial, TrialStatus
from tunesmith.schedulers import Decision, TrialScheduler
from tunesmith.search import SearchAlgorithm
from tunesmith.storage import ExperimentStorage, checkpoint_exists
from tunesmith.storage._checkpoints import CheckpointBook, delete_checkpoint
from tunesmith.storage._journal import StoppedBy

__all__ = ["Controller", "ExperimentSettings"]

_SIGNAL_NAMES = {-s.value: s.name for s in signal.Signals}
_STATE_SAVE_PERIOD_S = 2.0
_DEADLINE_PERIOD_S = 0.02


@dataclasses.dataclass(kw_only=True)
class ExperimentSettings:
    """Everything the controller needs besides its collaborators."""

    experiment_name: str
    trainable_name: str
    trainable_key: str
    is_class_trainable: bool
    resources_for: Any
    metric: str | list[str] | None = None
    mode: str | list[str] | None = None
    max_failures: int = 0
    fail_fast: bool | str = False
    max_concurrent_trials: int = 0
    num_to_keep: int | None = None
    checkpoint_score_attribute: str | None = None
    checkpoint_score_order: str = "max"
    checkpoint_frequency: int = 0
    checkpoint_at_end: bool = False
    reuse_actors: bool = False
    trial_name_creator: Any = None
    trial_dirname_creator: Any = None
    strict_metric_checking: bool = True
    log_to_file: tuple[str | None, str | None] | None = None
    restore_retry_num: int = 0  # TUNE_RESTORE_RETRY_NUM
    stop_grace_s: float = 5.0  # TUNESMITH_STOP_GRACE_S
    chdir_to_trial_dir: bool = True  # RAY_CHDIR_TO_TRIAL_DIR


@dataclasses.dataclass
class _Running:
    handle: AttemptHandle
    started: bool = False
    restored: bool = False
    ending: str | None = None  # "stop" or "pause" once decided
    deadline: float = math.inf
    last_seen: float = 0.0
    unanswered: bool = False  # sent its final result, which takes no decision
    decisions: bool = True  # False: its results get no DECISION (see Controller._decisions)
    reported: bool = False  # sent a result: a restore from a checkpoint is over

    @property
    def restoring(self) -> bool:
        return self.restored and not self.reported


class Controller:
    """Runs one experiment to the end. Use :meth:`run`."""

    def __init__(
        self,
        settings: ExperimentSettings,
        *,
        search_alg: SearchAlgorithm,
        scheduler: TrialScheduler,
        stopper: Any,
        executor: Executor,
        server: TrialServer,
        storage: ExperimentStorage,
        callbacks: CallbackList,
        progress: Any,
    ) -> None:
        self.settings = settings
        self.search_alg = search_alg
        self.scheduler = scheduler
        self.stopper = stopper
        self.executor = executor
        self.server = server
        self.storage = storage
        self.callbacks = callbacks
        self.progress = progress
        self._log_to_file = progress.relay_output(settings.log_to_file)  # on a terminal: trial output above the table
        self.trials: list[Trial] = []
        self._by_id: dict[str, Trial] = {}
        # Finished trials leave memory (see _retired) when their files hold what they were.
        self._retired = (RetiredTrials(storage, settings.trainable_name, self._books_get, settings.metric)
                         if _writes_results(callbacks) else None)
        self._position: dict[str, int] = {}  # unfinished trial id -> its place in self.trials
        self._to_retire: list[Trial] = []
        self.core = SchedulingCore(scheduler, self._end_dropped)  # the waiting trials; every scheduler call
        self._running: dict[str, _Running] = {}
        self._books: dict[str, CheckpointBook] = {}
        self._restore_failures: dict[str, int] = {}  # failed restores not counted as failures
        self._progress_at: dict[str, dict[str, Any]] = {}  # checkpoint url -> its iteration and time
        self._borrowed_progress: dict[str, dict[str, Any]] = {}  # trial id -> where an exploited trial counts on from
        self._kept_for_borrowers: list[Checkpoint] = []  # dropped by their trial, still needed by an exploit
        self._last_state_save = 0.0
        self._deadlines_checked = 0.0
        self._iteration = 0
        self._start_blocked = False  # the last _start_trials left trials waiting that it could not start
        self._stop_requested = False
        self._interrupted = False
        self._raise: BaseException | None = None
        self._warned_missing_stop_keys = False
        self._warned_no_checkpoint = False
        self._heartbeat_timeout = executor.heartbeat_timeout()  # read once per experiment
        # Silence is checked for every running attempt, but a timeout is tens of seconds:
        # every twentieth of it (a second at most) is soon enough.
        self._silence_period = min(1.0, max(_DEADLINE_PERIOD_S, self._heartbeat_timeout / 20))
        self._silence_checked = 0.0
        self._ending: dict[str, _Running] = {}  # attempts told to stop or pause, until their deadline
        # Whether anything decides on a result; if not, trials report without waiting.
        self._decisions = needs_decisions(scheduler, stopper, callbacks, settings.is_class_trainable)
        # What each kind of event from a trial does; one entry per trial frame type.
        self._handlers = {
            EventKind.STARTED: self._on_started,
            EventKind.HEARTBEAT: self._on_heartbeat,
            EventKind.RESULT: self._on_result,
            EventKind.CHECKPOINT: self._on_checkpoint,
            EventKind.DONE: self._on_done,
            EventKind.ERROR: self._on_error,
            EventKind.LOST: self._on_lost,
        }

    # -- the loop ---------------------------------------------------------------------------
    def run(self) -> list[Trial]:
        """Run until every trial has ended; return all trials."""
        restore_sigint = self._install_sigint()
        # Saved before the first trial exists, so a restore replays the same trial ids.
        self._save_search_state(force=True)
        try:
            while not self._finished():
                self._iteration += 1
                self.callbacks.call("on_step_begin", iteration=self._iteration, trials=self.trials)
                # Journal records of a step go out in one write, before the next wait.
                with self.storage.deferred_journal():
                    self._create_trials()
                    self._start_trials()
                with self.storage.deferred_journal():
                    self._handle_events(self._poll_timeout())
                    self._enforce_deadlines()
                    self._check_stop_all()
                self.callbacks.call("on_step_end", iteration=self._iteration, trials=self.trials)
                self.progress.update(self.trials)
                self._retire_finished()
                self.storage.sync()
        finally:
            self._end_all()
            restore_sigint()
            self._save_search_state(force=True)
        self.callbacks.call("on_experiment_end", trials=self.trials)
        self.progress.finish(self.trials, interrupted=self._interrupted)
        if self._raise is not None:
            raise self._raise
        return self.trials

    @property
    def interrupted(self) -> bool:
        return self._interrupted

    def checkpoint_book(self, trial_id: str) -> CheckpointBook:
        """The retained checkpoints of ``trial_id`` (an empty book for a finished trial that kept none)."""
        return self._books.get(trial_id) or CheckpointBook()

    def _books_get(self, trial_id: str) -> CheckpointBook | None:
        return self._books.get(trial_id)

    def _finished(self) -> bool:
        if self._running:
            return False
        if self._stop_requested:
            return True
        return not self.core.waiting and self.search_alg.is_finished()

    def _poll_timeout(self) -> float:
        # Waiting trials that could not start (no free resources, or the scheduler holds them)
        # start once an event frees resources: wait for it, instead of polling in a busy loop
        # (that took half the driver's CPU while trials queued for resources).
        if self.core.waiting and self._has_room() and not self._stop_requested and not self._start_blocked:
            return 0.0
        return 0.05

    # -- creating and starting trials --------------------------------------------------------
    def _has_room(self) -> bool:
        limit = self.settings.max_concurrent_trials
        return not limit or len(self._running) < limit

    def _create_trials(self) -> None:
        while not self._stop_requested and not self.core.has_pending_first():
            if self.search_alg.is_finished() or not self._has_room():
                return
            suggestion = self.search_alg.next_trial()
            if suggestion is None:
                return
            known = self._by_id.get(suggestion.trial_id)
            if known is not None:  # a restored search replaying a trial the journal already has
                self._replayed(known)
                continue
            self._add_trial(suggestion)

    def _replayed(self, trial: Trial) -> None:
        """The restored search made ``trial`` again: its state was saved before the trial was
        created. If the trial has ended (before the restore, or since), the search is told now,
        as it was not then; else it would count the trial as running for ever (and with
        ``max_concurrent_trials`` never create the rest)."""
        if trial.status.is_finished():
            flat = flatten_dict(trial.last_result) if trial.last_result else {}
            self.search_alg.on_trial_complete(trial.trial_id, flat, error=trial.status is TrialStatus.ERROR)

    def _add_trial(self, suggestion: Any) -> Trial:
        resources = self.settings.resources_for(suggestion.config)
        reason = self.executor.infeasible_reason(resources)
        if reason is not None:
            raise TuneError(
                f"trial {suggestion.trial_id} can never run: {reason}. Lower the request "
                f"(tune.with_resources) or {self.executor.more_resources_hint}"
            )
        trial = Trial(
            self.settings.trainable_name,
            trial_id=suggestion.trial_id,
            config=suggestion.config,
            experiment_tag=suggestion.experiment_tag,
            evaluated_params=suggestion.evaluated_params,
            resources=resources,
        )
        if self.settings.trial_name_creator is not None:
            trial.custom_trial_name = str(self.settings.trial_name_creator(trial))
        self._position[trial.trial_id] = len(self.trials)
        self.trials.append(trial)
        self._by_id[trial.trial_id] = trial
        self._books[trial.trial_id] = CheckpointBook(
            self.settings.num_to_keep, self.settings.checkpoint_score_attribute, self.settings.checkpoint_score_order
        )
        self.storage.journal.trial_added(trial)
        self.core.add(trial)
        self._save_search_state()
        return trial

    @property
    def retired(self) -> RetiredTrials | None:
        """The source of the finished trials' stand-ins; None when the trials' folders do not
        get their results (no JSON logger), and finished trials stay whole in memory."""
        return self._retired

    def adopt(self, trial: Trial, book: CheckpointBook) -> None:
        """Take over a trial restored from the journal; PENDING ones are run again. A
        :class:`FinishedTrial` (made by :attr:`retired`) is kept as it is."""
        self.trials.append(trial)
        self._by_id[trial.trial_id] = trial
        for checkpoint, metrics, _ in book.entries:  # every kept one, the latest too
            self._progress_at[checkpoint.url] = metrics
        if isinstance(trial, FinishedTrial):
            if book.entries or book.borrowed is not None:  # as _retire_finished keeps books
                self._books[trial.trial_id] = book
            return
        self._position[trial.trial_id] = len(self.trials) - 1
        self._books[trial.trial_id] = book
        if trial.status is TrialStatus.PENDING:
            self.core.add(trial)
        elif trial.status.is_finished():
            self._to_retire.append(trial)

    def _start_trials(self) -> None:
        self._start_blocked = False
        while self.core.waiting and self._has_room() and not self._stop_requested:
            trial = self.core.next_to_start(idle=not self._running, search_finished=self.search_alg.is_finished())
            if trial is None or not self._launch(trial):
                self._start_blocked = True
                return

    def _launch(self, trial: Trial) -> bool:
        attempt = trial.attempt + 1
        handle = self.executor.launch(trial.trial_id, attempt, trial.resources)
        if handle is None:
            return False
        trial.attempt = attempt
        if trial.dirname is None:
            trial.dirname = self.storage.create_trial_dir(trial, self.settings.trial_dirname_creator)
            trial.path = self.storage.trial_local_path(trial.dirname)
        restore = self._restore_point(trial)
        self.server.expect(trial.trial_id, attempt, self._assignment(trial, attempt, restore))
        if self.core.started(trial):
            self.search_alg.on_unpause(trial.trial_id)
        self._running[trial.trial_id] = _Running(handle, restored=restore is not None, last_seen=time.monotonic(),
                                                 decisions=self._decisions)
        self.storage.journal.trial_started(trial, restore)
        return True

    def _restore_point(self, trial: Trial) -> Checkpoint | None:
        """The checkpoint the next attempt starts from; logs past it are cut back.

        A trial's own checkpoint that has vanished from storage is dropped with a warning,
        and the one before it is used (or none: the trial starts over).
        """
        restore = self.core.take_exploit(trial)  # another trial's checkpoint (PBT's exploit)
        if restore is not None:
            progress, trial.restore_progress = trial.restore_progress, None
            if checkpoint_exists(restore):
                trial.checkpoint = restore
                self._books[trial.trial_id].borrowed = restore  # a retry must not go back to the old weights
                # as in Ray Tune, the trial counts on from the donor's progress at the exploit (or
                # its checkpoint's, if later), so its history does not repeat iterations
                saved = self._progress_at.get(restore.url, {})
                later = progress and (progress.get("training_iteration") or 0) > (saved.get("training_iteration") or 0)
                self._borrowed_progress[trial.trial_id] = progress if later else saved
                self.storage.journal.trial_exploited(trial, restore)
                return restore
            self.progress.warn(f"checkpoint {restore.path} given to trial {trial} is gone; it resumes from its own")
        book = self._books[trial.trial_id]
        if book.borrowed is not None and not checkpoint_exists(book.borrowed):
            self.progress.warn(f"checkpoint {book.borrowed.path} that trial {trial} took from another trial is gone; "
                               "it resumes from its own")
            book.borrowed = None
        while book.borrowed is None and book.latest is not None and not checkpoint_exists(book.latest):
            self.progress.warn(f"checkpoint {book.latest.path} of trial {trial} is missing; using the one before")
            self.storage.journal.checkpoint_dropped(trial, book.latest)
            book.forget_latest()
        # A checkpoint borrowed since the trial's last own one (a retry or a restore after
        # an exploit) comes first.
        start = book.borrowed or book.latest
        trial.checkpoint = start
        if trial.last_result or trial.attempt > 0:
            done = self._progress_of(trial, start)
            self.storage.settle_logs()  # the log writer has written all the trial's rows
            rows = self.storage.trial_files(trial.dirname).rewind(done.get("training_iteration", 0))
            trial.last_result = rows[-1] if rows else {}
        return start

    def _progress_of(self, trial: Trial, start: Checkpoint | None) -> dict[str, Any]:
        """``training_iteration`` and ``time_total_s`` an attempt starting from ``start`` counts on from."""
        if start is None:
            return {}
        if start is self._books[trial.trial_id].borrowed and trial.trial_id in self._borrowed_progress:
            return self._borrowed_progress[trial.trial_id]
        return self._progress_at.get(start.url, {})

    def _assignment(self, trial: Trial, attempt: int, restore: Checkpoint | None) -> _protocol.Assignment:
        done = self._progress_of(trial, restore)
        return _protocol.Assignment(
            trial_id=trial.trial_id,
            trial_name=str(trial),
            trial_dir=self.storage.trial_url(trial.dirname),
            local_dir=trial.path,
            storage_filesystem=self.storage.remote_fs,
            experiment_name=self.settings.experiment_name,
            resources=dict(trial.resources),
            config=trial.config,
            attempt=attempt,
            trainable_key=self.settings.trainable_key,
            restore_checkpoint=restore.url if restore else None,
            iteration=done.get("training_iteration", 0),
            time_total_s=float(done.get("time_total_s", 0.0) or 0.0),
            checkpoint_index=self._books[trial.trial_id].next_index,
            checkpoint_frequency=self.settings.checkpoint_frequency,
            checkpoint_at_end=self.settings.checkpoint_at_end,
            chdir=self.settings.chdir_to_trial_dir,
            reuse_actors=self.settings.reuse_actors,
            log_to_file=self._log_to_file,
            decisions=self._decisions,
        )

    # -- what trials said ----------------------------------------------------------------------
    def _handle_events(self, timeout: float) -> None:
        self._dispatch(self.server.poll(timeout))
        for handle, exit_code in self.executor.poll():
            if self._is_current(handle):
                # What the process sent before it ended comes first: its last results, its DONE.
                self._dispatch(self.server.drain(handle.trial_id))
            if self._is_current(handle):
                self._on_process_exit(self._by_id[handle.trial_id], self._running[handle.trial_id], exit_code)

    def _dispatch(self, events: list[TrialEvent]) -> None:
        for event in events:
            running = self._running.get(event.trial_id)
            if running is None or running.handle.attempt != event.attempt:
                continue  # a fenced attempt
            running.last_seen = time.monotonic()
            self._handlers[event.kind](self._by_id[event.trial_id], running, event)

    def _is_current(self, handle: AttemptHandle) -> bool:
        running = self._running.get(handle.trial_id)
        return running is not None and running.handle is handle

    def _on_started(self, trial: Trial, running: _Running, event: TrialEvent) -> None:
        running.started = True
        self.callbacks.call("on_trial_start", iteration=self._iteration, trials=self.trials, trial=trial)
        if running.restored:
            self.callbacks.call("on_trial_restore", iteration=self._iteration, trials=self.trials, trial=trial)

    def _on_heartbeat(self, trial: Trial, running: _Running, event: TrialEvent) -> None:
        """[scale-out] Nothing to do: ``_handle_events`` already noted that the attempt is alive."""

    def _on_result(self, trial: Trial, running: _Running, event: TrialEvent) -> None:
        seq, result, checkpoint_dir_name, final = event.payload
        running.reported = True
        if final:  # the trial ends right after it; nothing waits for a decision
            running.unanswered = True
        if running.ending is not None:
            self._answer(trial, running, seq, running.ending.upper())
            return
        result["config"] = trial.config
        flat = flatten_dict(result)
        problem = self._check_metric(flat)
        if problem is not None:
            self._answer(trial, running, seq, "STOP")
            self._end_attempt(trial, running, "stop")
            self._fail(trial, problem, "")
            return
        trial.last_result = result
        trial.update_metric_analysis(flat)
        lent_before = self._lending(trial.checkpoint) if checkpoint_dir_name else set()
        decision, stopped_by = self._decide(trial, flat)
        if decision is not Decision.STOP:
            self.search_alg.on_trial_result(trial.trial_id, flat)
        self.callbacks.call("on_trial_result", iteration=self._iteration, trials=self.trials, trial=trial, result=result)
        self.storage.mark_dirty(trial.path)
        self.progress.trial_result(trial, result)
        if checkpoint_dir_name:
            previous = trial.checkpoint
            self._register_checkpoint(trial, checkpoint_dir_name, flat)
            self._lend_newest(trial, previous, lent_before)
        # A callback may ask for a checkpoint by setting should_checkpoint, as in Ray Tune.
        save = bool(result.get("should_checkpoint")) and not checkpoint_dir_name and self.settings.is_class_trainable
        self._answer(trial, running, seq, decision.value, save)
        if decision is Decision.STOP:
            self._end_attempt(trial, running, "stop")
            self._complete(trial, stopped_by)
        elif decision is Decision.PAUSE:
            self._end_attempt(trial, running, "pause")

    def _answer(self, trial: Trial, running: _Running, seq: int, decision: str, save: bool = False) -> None:
        if running.decisions and not running.unanswered:
            self.server.send_decision(trial.trial_id, seq, decision, save=save)

    def _check_metric(self, flat: dict[str, Any]) -> Exception | None:
        metrics = self.settings.metric
        if not metrics:
            return None
        for metric in metrics if isinstance(metrics, list) else [metrics]:
            if metric not in flat:
                if metric == "_metric" or not self.settings.strict_metric_checking:
                    continue
                reported = ", ".join(sorted(k for k in flat if k not in AUTO_FILLED and not k.startswith("config/")))
                self._raise = TuneError(
                    f"the trainable reported no metric {metric!r}; it reported: {reported or 'no metrics'}. "
                    "Report that key, or set TuneConfig(metric=...) to one of these"
                )
                self.request_stop()
                return None
            value = flat[metric]
            if not _is_number(value):
                return ValueError(f"metric {metric!r} must be a number, got {_short_repr(value)} "
                                  f"({type(value).__name__}); report a single number for it, e.g. float(value)")
        return None

    def _decide(self, trial: Trial, flat: dict[str, Any]) -> tuple[Decision, StoppedBy | None]:
        """The decision on a result, and who stopped the trial if it is STOP (None: it said done)."""
        stop, done = self.stopper(trial.trial_id, flat), self._reported_done(flat)  # the stopper sees every result
        if stop or done:
            return Decision.STOP, None if done else StoppedBy.STOPPER
        if not self._warned_missing_stop_keys:
            missing = self.stopper.missing_keys(flat)
            if missing:
                self._warned_missing_stop_keys = True
                self.progress.warn(f"stop criteria {missing} are not among the reported metrics; they will never stop a trial")
        decision = self.core.decide(trial, flat)
        return decision, StoppedBy.SCHEDULER if decision is Decision.STOP else None

    def _reported_done(self, flat: dict[str, Any]) -> bool:
        """A function trainable's ``done=True`` ends the trial, as in Ray Tune (a class trainable
        returns by itself after such a result, and its instance can then be reused)."""
        return bool(flat.get("done")) and not self.settings.is_class_trainable

    def _end_dropped(self, trial: Trial) -> None:
        """End a trial the scheduler stopped while it was not reporting (the core took it off the waiting)."""
        running = self._running.get(trial.trial_id)
        if running is not None:
            if running.ending is None:
                self._end_attempt(trial, running, "stop")
                running.deadline = time.monotonic()
            elif running.ending == "pause":  # told to pause, stopped before its process ended
                running.ending = "stop"  # so its DONE(pause) does not put it back among the waiting
        self._complete(trial, StoppedBy.SCHEDULER)

    def _on_checkpoint(self, trial: Trial, running: _Running, event: TrialEvent) -> None:
        self._register_checkpoint(trial, event.payload, flatten_dict(trial.last_result))

    def _register_checkpoint(self, trial: Trial, dirname: str, flat: dict[str, Any]) -> None:
        url = f"{self.storage.trial_url(trial.dirname)}/{dirname}"
        checkpoint = Checkpoint(url, filesystem=self.storage.remote_fs)
        self._progress_at[checkpoint.url] = {k: flat.get(k) for k in ("training_iteration", "time_total_s")}
        self.storage.mark_dirty(trial.path)
        self.storage.journal.checkpoint(trial, checkpoint, flat.get("training_iteration"), flat.get("time_total_s"))
        for dropped in self._books[trial.trial_id].add(checkpoint, flat, in_use=self._borrowed):
            if self._borrowed(dropped):
                self._kept_for_borrowers.append(dropped)  # deleted once no exploit needs it
            else:
                self._progress_at.pop(dropped.url, None)
            self.storage.journal.checkpoint_dropped(trial, dropped)
        self._delete_unborrowed()
        trial.checkpoint = checkpoint
        self.callbacks.call("on_checkpoint", iteration=self._iteration, trials=self.trials, trial=trial, checkpoint=checkpoint)
        self.callbacks.call("on_trial_save", iteration=self._iteration, trials=self.trials, trial=trial)

    def _lending(self, checkpoint: Checkpoint | None) -> set[str]:
        """Ids of the waiting or ending trials that are to start from ``checkpoint``."""
        if checkpoint is None:
            return set()
        candidates = [*self.core.waiting, *(self._by_id[i] for i in self._running)]
        return {t.trial_id for t in candidates if t.restore_checkpoint is checkpoint}

    def _lend_newest(self, donor: Trial, previous: Checkpoint | None, lent_before: set[str]) -> None:
        """Trials that took ``donor``'s checkpoint while deciding on the result that came with a
        newer one get the newer one: PBT's exploit uses the donor's state at that result, as
        Ray Tune saves it there (the controller stores a result's checkpoint after the decision)."""
        for trial_id in self._lending(previous) - lent_before:
            self._by_id[trial_id].restore_checkpoint = donor.checkpoint

    def _borrowed(self, checkpoint: Checkpoint) -> bool:
        """Whether a trial will start, or may start again, from ``checkpoint`` of another trial
        (PBT's exploit: from the decision until the exploiting trial saves its own)."""
        url = checkpoint.url
        for trial in self.trials:
            if trial.status.is_finished():
                continue
            if trial.restore_checkpoint is not None and trial.restore_checkpoint.url == url:
                return True
            borrowed = self._books[trial.trial_id].borrowed
            if borrowed is not None and borrowed.url == url:
                return True
        return False

    def _delete_unborrowed(self) -> None:
        """Delete the dropped checkpoints that were kept for an exploit no trial needs any more."""
        still = []
        for checkpoint in self._kept_for_borrowers:
            if self._borrowed(checkpoint):
                still.append(checkpoint)
            else:
                self._progress_at.pop(checkpoint.url, None)
                delete_checkpoint(checkpoint)
        self._kept_for_borrowers = still

    def _on_done(self, trial: Trial, running: _Running, event: TrialEvent) -> None:
        reason: _protocol.DoneReason = event.payload
        self._running.pop(trial.trial_id)
        if reason is _protocol.DoneReason.PAUSE and running.ending == "pause":
            # A paused trial resumes in a fresh process, unless processes may be reused.
            if self.settings.reuse_actors:
                self.executor.finished(running.handle)
            else:
                self.executor.kill(running.handle)
            self._paused(trial)
            return
        self.executor.finished(running.handle)
        if running.ending is None:
            if trial.last_result:
                trial.last_result["done"] = True
            else:  # it reported nothing: Ray Tune's final result all the same
                trial.last_result = empty_final_result(trial.trial_id, trial.config)
            self._complete(trial)

    def _paused(self, trial: Trial) -> None:
        self.core.paused(trial)
        self.storage.journal.trial_paused(trial)
        self.search_alg.on_pause(trial.trial_id)
        if trial.checkpoint is None and trial.restore_checkpoint is None and not self._warned_no_checkpoint:
            self._warned_no_checkpoint = True
            self.progress.warn(
                f"the scheduler paused trial {trial}, which has reported no checkpoint, so it will start over "
                "from scratch when resumed. Report checkpoints (tune.report(..., checkpoint=...)) for "
                "schedulers that pause trials (HyperBand, PBT)"
            )

    def _on_error(self, trial: Trial, running: _Running, event: TrialEvent) -> None:
        frame: _protocol.Error = event.payload
        self._running.pop(trial.trial_id)
        self.executor.kill(running.handle)  # a retry gets a fresh process
        if running.ending == "stop":
            return
        error = _rebuild_error(frame, trial)
        self._fail(trial, error, frame.traceback or f"{frame.summary}\n", restoring=running.restoring)

    def _on_lost(self, trial: Trial, running: _Running, event: TrialEvent) -> None:
        exit_code = self.executor.exit_code(running.handle, timeout=1.0)
        self._on_process_exit(trial, running, exit_code)

    def _on_process_exit(self, trial: Trial, running: _Running, exit_code: int | None) -> None:
        self._running.pop(trial.trial_id, None)
        self.server.fence(trial.trial_id)
        self.executor.kill(running.handle)
        if running.ending is not None:
            if running.ending == "pause":
                self._paused(trial)
            return
        error = TrialLostError(f"the process of trial {trial} {_describe_exit(exit_code)} before the trial ended")
        self._fail(trial, error, f"{type(error).__name__}: {error}\n", restoring=running.restoring)

    # -- ending trials ----------------------------------------------------------------------------
    def _end_attempt(self, trial: Trial, running: _Running, how: str) -> None:
        running.ending = how
        self._ending[trial.trial_id] = running
        # An attempt that reads no decisions would not see this one: it ends at once.
        running.deadline = time.monotonic() + (self.settings.stop_grace_s if running.decisions else 0.0)
        if how == "stop":
            trial.status = TrialStatus.TERMINATED

    def _complete(self, trial: Trial, stopped_by: StoppedBy | None = None) -> None:
        if self._kept_for_borrowers:
            self._delete_unborrowed()
        flat = flatten_dict(trial.last_result) if trial.last_result else {}
        trial.status = TrialStatus.TERMINATED
        self.search_alg.on_trial_complete(trial.trial_id, flat, error=False)
        self.core.complete(trial, flat)
        self.storage.journal.trial_finished(trial, stopped_by)
        self._save_search_state()
        self.callbacks.call("on_trial_complete", iteration=self._iteration, trials=self.trials, trial=trial)
        self.progress.trial_complete(trial)
        self._to_retire.append(trial)

    def _fail(self, trial: Trial, error: BaseException, traceback_text: str, restoring: bool = False) -> None:
        counted = not restoring or self._restore_failures.get(trial.trial_id, 0) >= self.settings.restore_retry_num
        if counted:
            trial.num_failures += 1
        else:  # a failed restore from a checkpoint, within TUNE_RESTORE_RETRY_NUM: retried for free
            self._restore_failures[trial.trial_id] = self._restore_failures.get(trial.trial_id, 0) + 1
        trial.error_text = traceback_text or "".join(traceback.format_exception_only(type(error), error))
        if trial.dirname is not None:
            self.storage.trial_files(trial.dirname).write_error(error, trial.error_text, trial.num_failures)
            self.storage.mark_dirty(trial.path)
        retry = self.settings.max_failures == -1 or trial.num_failures <= self.settings.max_failures
        self.storage.journal.trial_failed(trial, error, retry, counted=counted)
        if retry and not self._stop_requested:
            # A lost attempt (a hung host that wakes up) may still write the checkpoint it
            # was saving; the retry numbers its own checkpoints past that one, so a stale
            # folder can never replace one the retry recorded.
            self._books[trial.trial_id].skip_index()
            self.core.retry(trial)
            self.callbacks.call("on_trial_recover", iteration=self._iteration, trials=self.trials, trial=trial)
            return
        trial.error = error
        self.core.errored(trial)
        flat = flatten_dict(trial.last_result) if trial.last_result else {}
        self.search_alg.on_trial_complete(trial.trial_id, flat, error=True)
        self.storage.journal.trial_finished(trial)
        self.callbacks.call("on_trial_error", iteration=self._iteration, trials=self.trials, trial=trial)
        self.progress.trial_error(trial, traceback_text)
        self._to_retire.append(trial)
        if self.settings.fail_fast:
            if self.settings.fail_fast == "raise" and self._raise is None:
                self._raise = error
            self.request_stop()

    def _retire_finished(self) -> None:
        """Put the trials that have ended for good, and whose process is gone, out of memory:
        a small :class:`~tunesmith.experiment._trial.FinishedTrial` takes each one's place,
        and reads the rest back from the trial's folder when asked."""
        if self._retired is None or not self._to_retire:
            return
        waiting = []
        for trial in self._to_retire:
            if trial.trial_id in self._running or not trial.status.is_finished():
                waiting.append(trial)  # its attempt is still ending
                continue
            position = self._position.pop(trial.trial_id, None)
            if position is None or self.trials[position] is not trial:
                continue
            stub = self._retired.retire(trial)
            self.trials[position] = self._by_id[trial.trial_id] = stub
            book = self._books.get(trial.trial_id)
            if book is not None and not book.entries and book.borrowed is None:
                del self._books[trial.trial_id]
            self.core.forget(trial)
        self._to_retire = waiting

    def request_stop(self) -> None:
        """End the experiment: no new trials; running ones are stopped."""
        if self._stop_requested:
            return
        self._stop_requested = True
        self.search_alg.set_finished()
        for trial_id, running in list(self._running.items()):
            if running.ending is None:
                self._end_attempt(self._by_id[trial_id], running, "stop")
                running.deadline = time.monotonic()  # kill at once: there is no decision to wait for

    def _save_search_state(self, force: bool = False) -> None:
        """Save the searcher's and scheduler's state, at most every few seconds unless forced."""
        now = time.monotonic()
        if not force and now - self._last_state_save < _STATE_SAVE_PERIOD_S:
            return
        self._last_state_save = now
        self.storage.save_search_state(self.search_alg, self.scheduler)

    def _check_stop_all(self) -> None:
        if not self._stop_requested and self.stopper.stop_all():
            self._stop_requested = True
            self.search_alg.set_finished()
            for trial_id, running in list(self._running.items()):
                if running.ending is None:
                    self._end_attempt(self._by_id[trial_id], running, "stop")
                    self._complete(self._by_id[trial_id], StoppedBy.STOPPER)
                    running.deadline = time.monotonic()
            while self.core.waiting:  # never started or paused: TERMINATED too, as in Ray
                self._complete(self.core.waiting.pop(0))

    def _enforce_deadlines(self) -> None:
        now = time.monotonic()
        # A scan of every running attempt per loop step was a tenth of the driver's CPU with
        # 1,000 trials reporting. Stop deadlines are checked every few tens of milliseconds,
        # among the attempts told to end only; silence (a heartbeat timeout of 30 s) every
        # twentieth of the timeout.
        if now - self._deadlines_checked < _DEADLINE_PERIOD_S:
            return
        self._deadlines_checked = now
        for trial_id, ending in list(self._ending.items()):
            running = self._running.get(trial_id)
            if running is not ending:  # it ended by itself
                del self._ending[trial_id]
            elif now >= running.deadline:
                del self._ending[trial_id]
                self._running.pop(trial_id)
                self.server.fence(trial_id)
                self.executor.kill(running.handle)
                if running.ending == "pause":
                    self._paused(self._by_id[trial_id])
        if now - self._silence_checked < self._silence_period:
            return
        self._silence_checked = now
        timeout = self._heartbeat_timeout
        for trial_id, running in list(self._running.items()):
            if now - running.last_seen > timeout:  # no HELLO, or heartbeats stopped: lost
                self._on_process_exit(self._by_id[trial_id], running, None)

    def _end_all(self) -> None:
        """Kill whatever still runs (an error or Ctrl-C ended the loop early).

        Running trials cut short this way show as TERMINATED, as in Ray Tune; trials that
        never started stay PENDING (and paused ones PAUSED), as the journal replays them.
        The journal has no "trial_finished" record for any of them, so a restore resumes them.
        """
        for trial_id, running in list(self._running.items()):
            self.server.fence(trial_id)
            self.executor.kill(running.handle)
        self._running.clear()
        self._ending.clear()
        for trial in self.trials:
            if trial.status is TrialStatus.RUNNING:
                trial.status = TrialStatus.TERMINATED
        self.core.waiting.clear()

    # -- Ctrl-C ---------------------------------------------------------------------------------
    def _install_sigint(self) -> Any:
        if threading.current_thread() is not threading.main_thread() or not _settings.sigint_handler_enabled():
            return lambda: None
        previous = signal.getsignal(signal.SIGINT)

        def on_sigint(signum: int, frame: Any) -> None:
            self._interrupted = True
            self.progress.warn("Ctrl-C: stopping the experiment; press Ctrl-C again to abort at once")
            signal.signal(signal.SIGINT, previous)
            self.request_stop()

        signal.signal(signal.SIGINT, on_sigint)
        return lambda: signal.signal(signal.SIGINT, previous)


def needs_decisions(scheduler: TrialScheduler, stopper: Any, callbacks: CallbackList, is_class: bool) -> bool:
    """Whether anything may decide on a trial's result: stop or pause it, or ask it for a checkpoint.

    Nothing does with the FIFO scheduler, no stopper that can stop a trial on a result (a
    ``time_budget_s`` alone ends trials by ending their processes), and, for a class
    trainable, no callback besides loggers that sees results (one may set
    ``should_checkpoint``). Then ``tune.report`` need not wait for the driver.
    """
    from tunesmith.schedulers import FIFOScheduler

    if type(scheduler) is not FIFOScheduler or _stops_trials(stopper):
        return True
    return is_class and any(_sees_results(callback) for callback in callbacks)


def _writes_results(callbacks: CallbackList) -> bool:
    """Whether each trial's config and results reach its folder (``params.pkl``,
    ``result.json``), so a finished trial can be read back from there."""
    from tunesmith.logger import JsonLoggerCallback

    return any(isinstance(callback, JsonLoggerCallback) for callback in callbacks)


def _stops_trials(stopper: Any) -> bool:
    from tunesmith.stopper import CombinedStopper, NoopStopper, TimeoutStopper

    if type(stopper) in (NoopStopper, TimeoutStopper):
        return False
    if type(stopper) is CombinedStopper:
        return any(_stops_trials(s) for s in stopper._stoppers)
    return True


def _sees_results(callback: Any) -> bool:
    from tunesmith.callback import Callback
    from tunesmith.logger import LoggerCallback

    return type(callback).on_trial_result not in (Callback.on_trial_result, LoggerCallback.on_trial_result)


def _is_number(value: Any) -> bool:
    """A plain number, or a single-number type such as a numpy scalar (not an array, not a bool)."""
    if isinstance(value, bool) or getattr(value, "ndim", 0) != 0:
        return False
    if isinstance(value, (int, float)):
        return True
    if not hasattr(value, "__float__"):
        return False
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _short_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _describe_exit(exit_code: int | None) -> str:
    if exit_code is None:
        return "stopped responding"
    if exit_code < 0:
        return f"was killed by signal {_SIGNAL_NAMES.get(exit_code, -exit_code)} (exit code {exit_code})"
    return f"exited with code {exit_code}"


def _rebuild_error(frame: _protocol.Error, trial: Trial) -> BaseException:
    """The user's own exception, with the trial's traceback attached as a note.

    The exception comes as data: its type is looked up among the modules the driver has
    already imported (nothing is imported or unpickled on a trial's word) and made without
    running its ``__init__``; an unknown type becomes a ``TrialError`` with the summary.
    """
    error = _known_exception(frame.module, frame.qualname, frame.args) or TrialError(frame.summary)
    if frame.traceback and hasattr(error, "add_note"):
        error.add_note(f"\n(raised in trial {trial}; its traceback:)\n{frame.traceback.rstrip()}")
    return error


def _known_exception(module: str, qualname: str, args: list) -> BaseException | None:
    kind: Any = sys.modules.get(module)
    for part in qualname.split("."):
        kind = getattr(kind, part, None) if not part.startswith("<") else None
    if not isinstance(kind, type) or not issubclass(kind, BaseException):
        return None
    try:
        values = tuple(_protocol.decode_value(arg) for arg in args)
        error = kind.__new__(kind, *values)
        error.args = values
        str(error)  # a __str__ that needs what __init__ would have set falls back to TrialError
    except Exception:
        return None
    return error
