"""The TrialServer against strangers: each attack runs against a live experiment, which
finishes with every trial's results intact, over plain TCP (the local executor) and over
TLS (a Dask cluster at ``tls://``); and a TrialServer out of file descriptors."""

import os
import select
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import tunesmith as tune
from tunesmith import _protocol
from tunesmith.execution import _server, _wire

STEPS = 5
_fit_ended = threading.Event()  # an EOF seen after this is the server closing down, not a drop


def _steady(config):
    for step in range(STEPS):
        time.sleep(0.25)
        tune.report({"score": config["x"] * 10 + step})


def _connect(server, timeout=5.0):
    """A client of ``server``: over TLS when it speaks TLS (its certificate is public)."""
    sock = _connect_plain(server, timeout)
    if server.certificate is None:
        return sock
    from tunesmith.execution import _tls

    return _tls.wrap_client(sock, server.certificate)


def _connect_plain(server, timeout=5.0):
    host, port = server.address.rsplit(":", 1)
    return socket.create_connection((host, int(port)), timeout=timeout)


def _nested_brackets(server):
    with _connect(server) as sock:
        _send(sock, struct.pack("!I", 200_000) + b"[" * 200_000)
        _expect_closed(sock)
    with _connect(server) as sock:  # a valid header, then JSON nested too deep for the decoder
        body = b"[" * 900
        _send(sock, struct.pack("!I", len(body) + 4) + struct.pack("!I", len(body)) + body)
        _expect_closed(sock)


def _huge_header(server):
    with _connect(server) as sock:
        _send(sock, struct.pack("!I", 0xFFFFFFF0) + b"x" * 65536)
        _expect_closed(sock)


def _idle_flood(server):
    socks = []
    try:
        for _ in range(300):
            socks.append(_connect_plain(server))  # over TLS too: a handshake never begun
        closed = 0
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline and closed < 300 - _server.MAX_UNAUTHENTICATED:
            readable, _, _ = select.select([s for s in socks if s.fileno() >= 0], [], [], 0.1)
            for sock in readable:
                if not sock.recv(1):
                    sock.close()
                    closed += 1
        assert not _fit_ended.is_set() and closed >= 300 - _server.MAX_UNAUTHENTICATED, closed
    finally:
        for sock in socks:
            sock.close()


def _slow_loris(server):
    with _connect(server) as sock:
        sock.sendall(struct.pack("!I", 100))  # promises a frame, never sends it
        _expect_closed(sock)


def _wrong_token(server):
    with _connect(server) as sock:
        _wire.send_frame(sock, _protocol.Auth("f" * 32))
        _expect_closed(sock)


def _forged_ticket(server):
    with _connect(server) as sock:
        _wire.send_frame(sock, _protocol.Hello("exp_00000", 0, {}, "0" * 32))
        _expect_closed(sock)


def _plain_auth(server):
    """The right token in clear text to a TLS server: not TLS, so closed."""
    with _connect_plain(server) as sock:
        _wire.send_frame(sock, _protocol.Auth(server.token))
        _expect_closed(sock)


def _stalled_handshake(server):
    with _connect_plain(server) as sock:
        sock.sendall(b"\x16\x03\x01\x02\x00")  # the start of a ClientHello, then nothing
        _expect_closed(sock)


def _pickle_after_auth(server):
    """The token holder's worst: a pickle that would run a command. It is never unpickled."""
    import pickle

    class Boom:
        def __reduce__(self):
            return (os.system, ("touch /tmp/tunesmith-pwned",))

    with _connect(server) as sock:
        _wire.send_frame(sock, _protocol.Auth(server.token))
        payload = pickle.dumps(("result", 1, Boom(), None))
        sock.sendall(struct.pack("!I", len(payload)) + payload)
        _expect_closed(sock)


def _send(sock, data):
    """Send what the server takes: it may close the connection before all of ``data`` is sent."""
    try:
        sock.sendall(data)
    except (ConnectionResetError, BrokenPipeError, ssl.SSLError):
        pass


def _expect_closed(sock):
    """The server drops the connection while the experiment still runs."""
    sock.settimeout(_server.AUTH_DEADLINE_S + 1)
    try:
        while sock.recv(65536):
            pass
    except (ConnectionResetError, BrokenPipeError, ssl.SSLError):
        pass
    assert not _fit_ended.is_set(), "the connection stayed open until the experiment ended"


ATTACKS = [_nested_brackets, _huge_header, _idle_flood, _slow_loris, _wrong_token, _forged_ticket,
           _pickle_after_auth]
TLS_ATTACKS = [*ATTACKS, _plain_auth, _stalled_handshake]
CASES = [pytest.param(attack, False, id=attack.__name__.strip("_")) for attack in ATTACKS] + [
    pytest.param(attack, True, id=f"tls-{attack.__name__.strip('_')}") for attack in TLS_ATTACKS]


@pytest.mark.parametrize(("attack", "tls"), CASES)
def test_an_attack_on_the_trial_server_leaves_the_experiment_intact(run, servers, attack, tls, monkeypatch, request):
    executor = _tls_executor(request) if tls else None
    monkeypatch.setattr(_server, "AUTH_DEADLINE_S", 1.0)
    _fit_ended.clear()
    if os.path.exists("/tmp/tunesmith-pwned"):
        os.remove("/tmp/tunesmith-pwned")
    errors = []

    def attacker():
        # Once a trial runs: on Dask the workers first probe the port (a flood before that
        # would fail the probe, which is a start-up check, not the running experiment).
        while not servers or not servers[0]._by_trial:
            time.sleep(0.01)
        try:
            attack(servers[0])
        except Exception as exc:  # the test fails below, naming it
            errors.append(exc)

    thread = threading.Thread(target=attacker, daemon=True)
    thread.start()
    try:
        grid = run(_steady, {"x": tune.grid_search([0, 1, 2])}, metric="score", mode="max", max_concurrent_trials=2,
                   executor=executor)
    finally:
        if executor is not None:
            executor.close()
    _fit_ended.set()
    assert (servers[0].certificate is not None) is tls
    thread.join(30)
    assert not errors, errors
    assert not grid.errors
    assert sorted(r.metrics["score"] for r in grid) == [4, 14, 24]
    assert all(len(r.metrics_dataframe) == STEPS for r in grid) if _has_pandas() else True
    assert not os.path.exists("/tmp/tunesmith-pwned")


def _tls_executor(request):
    from tunesmith.execution import DaskExecutor

    return DaskExecutor(request.getfixturevalue("tls_dask_client"), min_workers=2)


def _has_pandas():
    try:
        import pandas  # noqa: F401
    except ImportError:
        return False
    return True


def test_unauthenticated_connections_are_capped():
    server = _server.TrialServer()
    socks = []
    try:
        for _ in range(_server.MAX_UNAUTHENTICATED + 30):
            socks.append(_connect(server))
            server.poll(0)
        for _ in range(5):
            server.poll(0.01)
        assert len(server._unauthenticated) <= _server.MAX_UNAUTHENTICATED
    finally:
        for sock in socks:
            sock.close()
        server.close()


_OUT_OF_FDS = r"""
import resource, sys, time
from tunesmith.execution._server import TrialServer
server = TrialServer()
print(server.address, flush=True)
used = len(__import__("os").listdir("/proc/self/fd"))
resource.setrlimit(resource.RLIMIT_NOFILE, (used + 8, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
deadline = time.monotonic() + float(sys.argv[1])
while time.monotonic() < deadline:
    server.poll(0.05)
print("alive", flush=True)
"""


def test_a_server_out_of_file_descriptors_sheds_connections_and_keeps_running(tmp_path):
    script = tmp_path / "server.py"
    script.write_text(_OUT_OF_FDS)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.Popen([sys.executable, str(script), "4"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    try:
        host, port = proc.stdout.readline().strip().rsplit(":", 1)
        time.sleep(0.5)
        socks = [socket.create_connection((host, int(port)), timeout=5) for _ in range(60)]  # past the limit
        out, err = proc.communicate(timeout=30)
        for sock in socks:
            sock.close()
    finally:
        proc.kill()
    assert "alive" in out, err
    assert "cannot accept a connection (EMFILE)" in err


def test_a_numpy_array_as_the_metric_errors_that_trial_only(run):
    def train(config):
        for step in range(4):
            metric = np.array([1.0, 2.0]) if config["x"] == 1 else float(step)
            tune.report({"score": metric})

    grid = run(train, {"x": tune.grid_search([0, 1, 2])}, metric="score", mode="max",
               scheduler=tune.schedulers.ASHAScheduler(max_t=4, grace_period=1))
    assert len(grid.errors) == 1
    assert "metric 'score' must be a number, got array([1., 2.])" in str(grid.errors[0])
    assert sorted(r.metrics["score"] for r in grid if r.error is None) == [3.0, 3.0]


def test_a_value_that_is_not_data_reaches_the_driver_as_its_repr(run):
    class Model:
        def __repr__(self):
            return "Model(7)"

    def train(config):
        tune.report({"score": 1, "model": Model(), "weights": np.arange(3), "pair": (1, 2)})

    [result] = run(train, metric="score", mode="max")
    assert result.metrics["model"] == "Model(7)" and result.metrics["pair"] == (1, 2)
    assert (result.metrics["weights"] == np.arange(3)).all()


def _assignment(trial_id, attempt):
    return _protocol.Assignment(trial_id=trial_id, trial_name=trial_id, trial_dir="/tmp", experiment_name="e",
                                resources={"cpu": 1}, attempt=attempt, trainable_key="k")


def _events(server, kind, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [e for e in server.poll(0.05) if e.kind == kind]
        if found:
            return found
    raise AssertionError(f"no {kind} event")


def test_a_result_the_driver_cannot_decode_fails_that_attempt_naming_the_key():
    server = _server.TrialServer()
    try:
        server.add_trainable("k", b"blob")
        server.expect("t1", 0, _assignment("t1", 0))
        with _connect(server) as sock:
            _wire.send_frame(sock, _protocol.Auth(server.token))
            _wire.send_frame(sock, _protocol.Hello("t1", 0, {"cached": ["k"]}))
            _events(server, "started")
            _wire.send_frame(sock, _protocol.Result(1, {"ok": 1, "w": {"__t__": "ndarray", "dtype": "O", "shape": [1],
                                                                     "v": ""}}, None, False))
            [event] = _events(server, "error")
            assert (event.trial_id, event.attempt) == ("t1", 0)
            assert "cannot decode result key 'w'" in event.payload.summary
            _closed_while_polling(server, sock)
    finally:
        server.close()


def test_a_ticket_opens_its_own_attempt_once_and_no_other():
    server = _server.TrialServer()
    try:
        server.add_trainable("k", b"blob")
        server.expect("t1", 0, _assignment("t1", 0))
        server.expect("t2", 0, _assignment("t2", 0))
        ticket = server.ticket("t1", 0)
        with _connect(server) as sock:
            _wire.send_frame(sock, _protocol.Hello("t1", 0, {}, ticket))
            _events(server, "started")
            assert _wire.recv_frame(sock).trainable == b"blob"
            _wire.send_frame(sock, _protocol.Hello("t2", 0, {}, ticket))  # not t2's ticket
            _poll_until_readable(server, sock)
            assert isinstance(_wire.recv_frame(sock), _protocol.Reject)
        with _connect(server) as again:  # spent
            _wire.send_frame(again, _protocol.Hello("t1", 0, {}, ticket))
            _closed_while_polling(server, again)
    finally:
        server.close()


def _poll_until_readable(server, sock, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        server.poll(0.02)
        if select.select([sock], [], [], 0)[0]:
            return
    raise AssertionError("the server did not answer")


def _closed_while_polling(server, sock):
    """Whatever the server had sent is followed by EOF (or a reset: it closed with our bytes unread)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        _poll_until_readable(server, sock)
        try:
            if not sock.recv(65536):
                return
        except ConnectionResetError:
            return
    raise AssertionError("the connection stayed open")


def test_over_tls_a_large_assignment_and_a_burst_of_results_arrive_whole():
    """Queued writes that meet SSLWantWriteError, and reads that must drain what OpenSSL holds."""
    server = _server.TrialServer(tls=True)
    blob = os.urandom(32 << 20)
    results = 400
    try:
        server.add_trainable("k", blob)
        server.expect("t1", 0, _assignment("t1", 0))
        with _while_polling(server, lambda: _connect(server)) as sock:  # the handshake needs the loop
            assert isinstance(sock, ssl.SSLSocket)
            _wire.send_frame(sock, _protocol.Hello("t1", 0, {}, server.ticket("t1", 0)))
            _events(server, "started")
            assert isinstance(server._by_trial["t1"].sock, ssl.SSLSocket)
            assert _while_polling(server, lambda: _wire.recv_frame(sock)).trainable == blob
            for seq in range(results):  # a frame per TLS record, many records per read
                _wire.send_frame(sock, _protocol.Result(seq, {"n": seq, "pad": "x" * 3000}, None, False))
            seen = []
            deadline = time.monotonic() + 10
            while len(seen) < results and time.monotonic() < deadline:
                seen += [e.payload[1]["n"] for e in server.poll(0.05) if e.kind == "result"]
            assert seen == list(range(results))
    finally:
        server.close()


def test_a_tls_server_refuses_a_plain_client_even_with_the_right_token():
    server = _server.TrialServer(tls=True)
    try:
        server.add_trainable("k", b"blob")
        server.expect("t1", 0, _assignment("t1", 0))
        with _connect_plain(server) as sock:
            _wire.send_frame(sock, _protocol.Auth(server.token))
            _wire.send_frame(sock, _protocol.Hello("t1", 0, {}, server.ticket("t1", 0)))
            _closed_while_polling(server, sock)
        assert server.poll(0.05) == [] and "t1" in server._expected  # nothing started; the ticket is unspent
    finally:
        server.close()


def _while_polling(server, work):
    """``work()``'s answer, run in a thread while this one polls ``server``."""
    answer = []
    thread = threading.Thread(target=lambda: answer.append(_outcome(work)), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while thread.is_alive() and time.monotonic() < deadline:
        server.poll(0.01)
    assert answer, "no answer within 10 s"
    if isinstance(answer[0], BaseException):
        raise answer[0]
    return answer[0]


def _outcome(work):
    try:
        return work()
    except BaseException as exc:  # re-raised in the test's thread
        return exc


def test_tls_code_is_loaded_only_by_a_tls_server():
    code = ("import sys; from tunesmith.execution import _server, _worker; _server.TrialServer().close(); "
            "print(sorted(m for m in ('ssl', 'cryptography') if m in sys.modules)); "
            "_server.TrialServer(tls=True).close(); print(sorted(m for m in ('ssl', 'cryptography') if m in sys.modules))")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.split("\n")[:2] == ["[]", "['cryptography', 'ssl']"]


@pytest.mark.parametrize("tls", [False, True], ids=["tcp", "tls"])
def test_a_flood_of_idle_connections_sheds_them_before_one_that_spoke(tls):
    """An attempt's connection that has begun (a ClientHello, half a frame) outlives idle ones opened after it."""
    server = _server.TrialServer(tls=tls)
    socks = []
    try:
        speaker = _connect_plain(server)
        speaker.sendall(b"\x16\x03\x01\x02\x00" if tls else struct.pack("!I", 100))  # a start, then nothing
        socks.append(speaker)
        for _ in range(5):
            server.poll(0.01)
        for _ in range(_server.MAX_UNAUTHENTICATED + 20):
            socks.append(_connect_plain(server))
            server.poll(0)
        assert any(conn.sock.getpeername() == speaker.getsockname() for conn in server._unauthenticated)
        assert len(server._unauthenticated) <= _server.MAX_UNAUTHENTICATED
    finally:
        for sock in socks:
            sock.close()
        server.close()
