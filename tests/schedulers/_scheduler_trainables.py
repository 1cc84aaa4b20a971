"""Trainables for ``test_end_to_end.py``, in a module that imports nothing heavy: worker
processes import it to unpickle them, and a fresh worker should start fast."""

import json
import os
import tempfile
import time

import tunesmith as tune


def _load_state():
    checkpoint = tune.get_checkpoint()
    if checkpoint is None:
        return {"step": 0, "value": 0.0, "owner": None}
    with checkpoint.as_directory() as folder, open(os.path.join(folder, "state.json")) as f:
        return json.load(f)


def _report(metrics, state):
    with tempfile.TemporaryDirectory() as folder:
        with open(os.path.join(folder, "state.json"), "w") as f:
            json.dump(state, f)
        tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(folder))


def linear(config):
    """score = q * step; checkpoints every step; runs to step 9 (or ``config["steps"]``)."""
    state = _load_state()
    for step in range(state["step"] + 1, config.get("steps", 9) + 1):
        _report({"score": config["q"] * step, "step": step, "pid": os.getpid()}, {"step": step})


def accumulate(config):
    """``value`` grows by ``config["lr"]`` a step for 12 steps; the checkpoint keeps value, step and
    who saved it. With ``config["barrier"]``, the first attempts wait for each other."""
    state = _load_state()
    if config.get("barrier") and state["step"] == 0:
        wait_for_peers(config["barrier"], config["population"])
    me = tune.get_context().get_trial_id()
    value = state["value"]
    for step in range(state["step"] + 1, 13):
        time.sleep(config.get("sleep", 0))
        value += config["lr"]
        metrics = {"value": value, "step": step, "restored_step": state["step"], "restored_owner": state["owner"]}
        _report(metrics, {"step": step, "value": value, "owner": me})


def wait_for_peers(folder, count, timeout_s=30.0):
    """A barrier: mark this trial as started in ``folder`` and wait until ``count`` trials have."""
    os.makedirs(folder, exist_ok=True)
    open(os.path.join(folder, tune.get_context().get_trial_id()), "w").close()
    deadline = time.monotonic() + timeout_s
    while len(os.listdir(folder)) < count and time.monotonic() < deadline:
        time.sleep(0.01)


def grow(config):
    state = _load_state()
    for step in range(state["step"] + 1, 5):
        cpus = tune.get_context().get_trial_resources().required_resources["CPU"]
        _report({"score": step, "step": step, "cpus": cpus}, {"step": step})


def slow_to_stop(config):
    """:func:`linear`, all trials starting together; a trial told to pause or stop takes
    ``config["linger"]`` seconds to end (its process is still there meanwhile)."""
    wait_for_peers(config["barrier"], config["population"])
    try:
        linear(config)
    except BaseException:
        time.sleep(config["linger"])
        raise


def accumulate_crashing_after_exploit(config):
    """``accumulate``, but the first attempt that starts from another trial's checkpoint
    crashes before its first step (once per experiment: a marker file in ``config["crashed"]``)."""
    state = _load_state()
    me = tune.get_context().get_trial_id()
    if state["owner"] not in (None, me) and not os.path.exists(config["crashed"]):
        open(config["crashed"], "w").close()
        raise RuntimeError("crashed right after the exploit")
    accumulate(config)


def accumulate_waiting_after_exploit(config):
    """``accumulate``, but the first attempt that starts from another trial's checkpoint
    marks ``config["marker"]`` and waits there (for the test to kill the driver)."""
    state = _load_state()
    me = tune.get_context().get_trial_id()
    if state["owner"] not in (None, me) and not os.path.exists(config["marker"]):
        open(config["marker"], "w").close()
        time.sleep(120)
    accumulate(config)


def accumulate_sparse_checkpoints(config):
    """``accumulate`` for 12 steps, with a checkpoint every ``config["every"]`` steps only. An
    attempt that starts from another trial's checkpoint waits ``config["load_delay"]`` seconds
    before loading it (while that trial goes on, and drops it with ``num_to_keep=1``)."""
    me = tune.get_context().get_trial_id()
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None and me not in checkpoint.path:
        time.sleep(config["load_delay"])
    state = _load_state()
    value = state["value"]
    for step in range(state["step"] + 1, 13):
        time.sleep(0.02)
        value += config["lr"]
        metrics = {"value": value, "step": step, "restored_step": state["step"], "restored_owner": state["owner"]}
        if step % config["every"] == 0:
            _report(metrics, {"step": step, "value": value, "owner": me})
        else:
            tune.report(metrics)
