"""Heartbeats: a trial on a hung host is noticed and retried; a busy one is not."""

import os
import signal
import socket
import threading
import time

import pytest

import tunesmith as tune
from tunesmith import _protocol
from tunesmith.execution import LocalExecutor, _wire
from tunesmith.execution._heartbeat import Heartbeat
from tunesmith.execution._server import TrialServer


def test_heartbeats_arrive_at_the_interval_until_stopped():
    ours, theirs = socket.socketpair()
    beat = Heartbeat(ours, interval_s=0.02).start()
    frames = [_wire.recv_frame(theirs, _protocol.TRIAL_FRAMES) for _ in range(5)]
    beat.stop()
    assert frames == [_protocol.Heartbeat()] * 5
    theirs.settimeout(0.1)
    with pytest.raises((socket.timeout, TimeoutError)):
        while True:  # drain what was in flight; then nothing more comes
            _wire.recv_frame(theirs, _protocol.TRIAL_FRAMES)


def test_a_driver_that_went_away_ends_the_heartbeat_and_says_so():
    ours, theirs = socket.socketpair()
    gone = threading.Event()
    Heartbeat(ours, interval_s=0.01, on_driver_gone=gone.set).start()
    theirs.close()
    assert gone.wait(5)


def test_heartbeat_frames_never_interleave_with_the_main_threads_frames():
    ours, theirs = socket.socketpair()
    big = {"payload": "x" * 200_000}
    received = []
    reader = threading.Thread(target=lambda: received.extend(_read_all(theirs)))
    reader.start()
    beat = Heartbeat(ours, interval_s=0.0005).start()
    for i in range(200):
        _wire.send_frame(ours, _protocol.Result(i, big, None, False))
    beat.stop()
    ours.close()
    reader.join(10)
    results = [m for m in received if isinstance(m, _protocol.Result)]
    assert [m.seq for m in results] == list(range(200)) and all(m.result == big for m in results)
    assert all(isinstance(m, (_protocol.Heartbeat, _protocol.Result)) for m in received)


def test_a_forked_childs_frames_never_interleave_with_its_parents_heartbeats(monkeypatch):
    ours, theirs = socket.socketpair()
    big = {"payload": "x" * 200_000}
    received = []
    reader = threading.Thread(target=_read_all_or_drain, args=(theirs, received), daemon=True)
    reader.start()
    monkeypatch.setattr(_wire, "_process_lock", None)  # this test process shares only for this test
    _wire.share_sends_with_children()
    beat = Heartbeat(ours, interval_s=0.0001).start()
    pid = os.fork()
    if pid == 0:  # the child sends while its parent's heartbeat thread beats on the same connection
        for i in range(300):
            _wire.send_frame(ours, _protocol.Result(i, big, None, False))
        os._exit(0)
    os.waitpid(pid, 0)
    beat.stop()
    ours.close()
    reader.join(10)
    results = [m for m in received if isinstance(m, _protocol.Result)]
    assert [m.seq for m in results] == list(range(300)) and all(m.result == big for m in results)
    assert sum(isinstance(m, _protocol.Heartbeat) for m in received) > 0


def _frames_until_eof(sock):
    received = []
    reader = threading.Thread(target=lambda: received.extend(_read_all(sock)), daemon=True)
    reader.start()
    return received, reader


def _send_results_for(sock, seconds, every_s=0.01):
    for i in range(int(seconds / every_s)):
        _wire.send_frame(sock, _protocol.Result(i, {"i": i}, None, False))
        time.sleep(every_s)


def _heartbeats_before_last_result(received):
    last = max(i for i, m in enumerate(received) if isinstance(m, _protocol.Result))
    return sum(isinstance(m, _protocol.Heartbeat) for m in received[:last])


def test_no_heartbeats_while_results_flow_and_they_resume_when_results_stop():
    ours, theirs = socket.socketpair()
    received, reader = _frames_until_eof(theirs)
    beat = Heartbeat(ours, interval_s=0.3).start()
    _send_results_for(ours, 1.2)  # 120 results: without the check, 4 heartbeats among them
    deadline = time.monotonic() + 10
    while not isinstance(received[-1], _protocol.Heartbeat) and time.monotonic() < deadline:
        time.sleep(0.05)  # silence: a heartbeat within about two intervals
    beat.stop()
    ours.close()
    reader.join(10)
    assert _heartbeats_before_last_result(received) <= 1  # one if this thread stalled a third of a second
    assert isinstance(received[-1], _protocol.Heartbeat)


def test_a_forked_childs_results_stand_in_for_its_parents_heartbeats(monkeypatch):
    ours, theirs = socket.socketpair()
    received, reader = _frames_until_eof(theirs)
    monkeypatch.setattr(_wire, "_process_lock", None)  # this test process shares only for this test
    monkeypatch.setattr(_wire, "_shared_sent_at", None)
    _wire.share_sends_with_children()
    beat = Heartbeat(ours, interval_s=0.3).start()
    pid = os.fork()
    if pid == 0:  # the child reports; the parent's thread beats for it, as a worker's does
        _send_results_for(ours, 1.2)
        os._exit(0)
    os.waitpid(pid, 0)
    beat.stop()
    ours.close()
    reader.join(10)
    assert sum(isinstance(m, _protocol.Result) for m in received) == 120
    assert _heartbeats_before_last_result(received) <= 1


def _read_all_or_drain(sock, received):
    """Frames into ``received`` until one does not decode (then "garbled"); reads to EOF either way."""
    try:
        received.extend(_read_all(sock))
    except Exception:
        received.append("garbled")
        while sock.recv(1 << 20):
            pass


def _read_all(sock):
    buffer = _wire.FrameBuffer()
    while data := sock.recv(1 << 20):
        for frame in buffer.feed(data):
            yield _protocol.decode(frame, _protocol.TRIAL_FRAMES)


def _connect(server):
    host, port = server.address.rsplit(":", 1)
    sock = socket.create_connection((host, int(port)))
    _wire.send_frame(sock, _protocol.Auth(server.token))
    return sock


def _assignment(trial_id, attempt):
    return _protocol.Assignment(trial_id=trial_id, trial_name=trial_id, trial_dir="/tmp", experiment_name="e",
                                resources={"cpu": 1}, attempt=attempt, trainable_key="k")


def _poll_until(server, kind, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for event in server.poll(0.05):
            if event.kind == kind:
                return event
    raise AssertionError(f"no {kind} event")


def test_server_turns_heartbeats_into_events_and_closes_a_fenced_connection():
    server = TrialServer()
    try:
        server.add_trainable("k", b"blob")
        server.expect("t1", 2, _assignment("t1", 2))
        sock = _connect(server)
        _wire.send_frame(sock, _protocol.Hello("t1", 2, {"cached": ["k"]}))
        _poll_until(server, "started")
        assert isinstance(_wire.recv_frame(sock), _protocol.Assign)
        _wire.send_frame(sock, _protocol.Heartbeat())
        event = _poll_until(server, "heartbeat")
        assert (event.trial_id, event.attempt) == ("t1", 2)
        server.fence("t1")  # the attempt was declared lost: whatever it says now is not read
        sock.settimeout(5)
        with pytest.raises(_wire.ConnectionClosed):
            _wire.recv_frame(sock)
    finally:
        server.close()


def test_a_stale_attempts_hello_is_rejected():
    server = TrialServer()
    try:
        server.add_trainable("k", b"blob")
        server.expect("t1", 3, _assignment("t1", 3))  # attempt 2 was lost; 3 is the retry
        stale = _connect(server)
        _wire.send_frame(stale, _protocol.Hello("t1", 2, {}))
        for _ in range(10):  # accept, then read the HELLO
            server.poll(0.05)
        stale.settimeout(5)
        reply = _wire.recv_frame(stale)
        assert isinstance(reply, _protocol.Reject) and "attempt 2 of trial t1 is not expected" in reply.reason
    finally:
        server.close()


def test_a_trial_whose_process_hangs_is_lost_after_the_timeout_and_retried(run, tmp_path):
    marker = tmp_path / "hung"

    def train(config):
        tune.report({"step": 1})
        if not marker.exists():
            marker.write_text(str(os.getpid()))
            os.kill(os.getpid(), signal.SIGSTOP)  # the whole process hangs, heartbeat thread included
        tune.report({"step": 2})

    start = time.monotonic()
    results = run(train, executor=LocalExecutor(num_cpus=1, heartbeat_timeout_s=2),
                  run_config={"failure_config": tune.FailureConfig(max_failures=1)})
    assert results.num_errors == 0 and results[0].metrics["step"] == 2
    assert 2 < time.monotonic() - start < 30
    text = open(os.path.join(results[0].path, "error.txt")).read()
    assert "stopped responding" in text


def test_a_busy_trial_keeps_beating_and_is_not_lost(run):
    def train(config):
        time.sleep(4)  # twice the timeout, between two reports
        return {"ok": 1}

    results = run(train, executor=LocalExecutor(num_cpus=1, heartbeat_timeout_s=2))
    assert results.num_errors == 0 and results[0].metrics["ok"] == 1


def test_a_worker_sends_no_heartbeats_for_a_trial_that_reports_more_often(run, monkeypatch):
    from tunesmith.execution import _controller

    beats = []  # (trial id, the iteration it had reported when the beat came)
    real = _controller.Controller._on_heartbeat

    def on_heartbeat(self, trial, running, event):
        beats.append((trial.trial_id, (trial.last_result or {}).get("training_iteration", 0)))
        real(self, trial, running, event)

    monkeypatch.setattr(_controller.Controller, "_on_heartbeat", on_heartbeat)

    def train(config):
        for i in range(60):  # 1.2 s of reports, 0.02 s apart; the heartbeat interval is 0.2 s
            time.sleep(0.02)
            tune.report({"i": i})
        time.sleep(1.0)  # then silence: the worker beats for its child

    results = run(train, {"t": tune.grid_search([0, 1])}, executor=LocalExecutor(num_cpus=2, heartbeat_timeout_s=0.8))
    assert results.num_errors == 0
    while_reporting = [b for b in beats if 1 <= b[1] < 60]  # without the check: about 6 per trial
    assert len(while_reporting) <= 2
    assert len(beats) - len(while_reporting) >= 2  # the silence after: beats
