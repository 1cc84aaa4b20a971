"""Fuzz run: malformed frames thrown at the TrialServer of a running experiment.

Usage:
    python benchmarks/fuzz.py [--frames 400] [--trials 4] [--steps 20] [--seed 0] [--storage DIR] [--tls]

An experiment of ``--trials`` trials, each reporting ``--steps`` results, runs in this
process while a thread connects to its TrialServer again and again, each time sending one
generated bad frame: random bytes, truncated or oversized length headers, bad JSON, frames
with fields of the wrong type, a wrong protocol version, valid trial frames before
authentication, forged tickets, and (with the experiment's token, as a trusted process that
went wrong would) garbage, pickles, and frames for attempts that do not exist. Then it
checks: the driver did not crash, did not hang (every attack connection was closed or
answered within the time limit), and every trial's ``result.json`` holds each step once.
The report is JSON; the target is errors 0, hangs 0, lost rows 0.

With ``--tls`` the experiment runs on a Dask ``LocalCluster`` at ``tls://127.0.0.1``, so
its TrialServer speaks TLS: random bytes go to it raw (at the TLS handshake), every other
frame over a TLS connection that trusts the server's (public) certificate.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import pickle
import random
import socket
import struct
import sys
import tempfile
import threading
import time
from collections import Counter

import tunesmith as tune
from tunesmith import _protocol
from tunesmith.execution import _server, _wire

_CLOSE_WAIT_S = _server.AUTH_DEADLINE_S + 3


def _counting(config: dict) -> None:
    for n in range(1, config["steps"] + 1):
        time.sleep(config["sleep"])
        if n == config["steps"]:  # the last step waits until every frame was thrown
            deadline = time.monotonic() + 300
            while not os.path.exists(config["release"]) and time.monotonic() < deadline:
                time.sleep(0.05)
        tune.report({"n": n})


def _header(n: int) -> bytes:
    return struct.pack("!I", n)


def _framed(fields: object, attachment: bytes = b"") -> bytes:
    text = json.dumps(fields).encode()
    payload = _header(len(text)) + text + attachment
    return _header(len(payload)) + payload


def _valid(frame: object) -> bytes:
    return _wire.frame_bytes(frame)


# -- generators: each returns (category, bytes to send, needs the token first) ----------------------------
def _random_bytes(rng: random.Random, server: _server.TrialServer) -> tuple[str, bytes, bool]:
    return "random bytes", rng.randbytes(rng.randint(1, 2000)), False


def _truncated_header(rng: random.Random, server: _server.TrialServer) -> tuple[str, bytes, bool]:
    return "truncated header", rng.randbytes(rng.randint(1, 3)), False


def _oversized_header(rng: random.Random, server: _server.TrialServer) -> tuple[str, bytes, bool]:
    return "oversized header", _header(rng.randint(_protocol.MAX_AUTH_FRAME + 1, 0xFFFFFFFF)) + rng.randbytes(64), False


def _bad_json(rng: random.Random, server: _server.TrialServer) -> tuple[str, bytes, bool]:
    body = rng.choice([b"{", b"[" * rng.randint(500, 900), b'{"v": 1, "type": "auth", "token": ', b"\xff\xfe",
                       b"nul\x00l", json.dumps({"v": 1}).encode()[:-1]])
    return "bad JSON", _header(len(body) + 4) + _header(len(body)) + body, False


def _wrong_types(rng: random.Random, server: _server.TrialServer) -> tuple[str, bytes, bool]:
    fields = rng.choice([
        {"v": 1, "type": "auth", "token": 12345},
        {"v": 1, "type": "auth", "token": None},
        {"v": 1, "type": "auth", "token": ["a"]},
        {"v": 1, "type": "hello", "trial_id": 1, "attempt": "0", "info": [], "ticket": 3},
        {"v": 1, "type": "hello", "trial_id": "x", "attempt": 0, "info": {}, "ticket": {"a": 1}},
        {"v": 1, "type": 7},
        {"v": "1", "type": "auth", "token": server.token},  # the right token, a wrong version type
    ])
    return "wrong types", _framed(fields), False


def _wrong_version(rng: random.Random, server: _server.TrialServer) -> tuple[str, bytes, bool]:
    return "wrong version", _framed({"v": rng.choice([0, 2, 99, None]), "type": "auth", "token": server.token}), False


def _before_auth(rng: random.Random, server: _server.TrialServer) -> tuple[str, bytes, bool]:
    frame = rng.choice([_protocol.Heartbeat(), _protocol.Result(1, {"n": 99}, None, False),
                        _protocol.Done(_protocol.DoneReason.FINISHED), _protocol.Checkpoint("checkpoint_000000"),
                        _protocol.Error("builtins", "ValueError", ["x"], "", "ValueError: x")])
    return "trial frame before auth", _valid(frame), False


def _forged_ticket(rng: random.Random, server: _server.TrialServer) -> tuple[str, bytes, bool]:
    trial_id = rng.choice(list(server._expected) or ["fuzz_00000"])
    return "forged ticket", _valid(_protocol.Hello(trial_id, rng.randint(0, 3), {}, rng.randbytes(16).hex())), False


def _garbage_after_auth(rng: random.Random, server: _server.TrialServer) -> tuple[str, bytes, bool]:
    body = rng.choice([
        rng.randbytes(rng.randint(1, 500)),
        _valid(_protocol.Result(1, {"n": 1}, None, False)),  # a result without HELLO: ignored
        _valid(_protocol.Hello("no_such_trial", 0, {})),  # answered with REJECT
        _framed({"v": 1, "type": "result", "seq": 1, "result": {"n": {"__t__": "pickle"}}, "checkpoint": None,
                 "final": False}),
        _header(len(pickle.dumps(("result", 1, {}, None)))) + pickle.dumps(("result", 1, {}, None)),
        _header(_protocol.MAX_TRIAL_FRAME + 1),
    ])
    return "garbage after a valid auth", body, True


GENERATORS = [_random_bytes, _truncated_header, _oversized_header, _bad_json, _wrong_types, _wrong_version,
              _before_auth, _forged_ticket, _garbage_after_auth]


def _connect(server: _server.TrialServer, raw: bool) -> socket.socket:
    host, port = server.address.rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=_CLOSE_WAIT_S)
    if server.certificate is None or raw:
        return sock
    from tunesmith.execution._tls import wrap_client

    return wrap_client(sock, server.certificate)


def _attack(server: _server.TrialServer, data: bytes, authenticate: bool, raw: bool = False) -> bool:
    """Send ``data`` on a new connection; True when the server closed it or answered in time."""
    with _connect(server, raw) as sock:
        if authenticate:
            sock.sendall(_valid(_protocol.Auth(server.token)))
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)  # no more bytes: a partial frame stays partial
            return sock.recv(65536) is not None  # EOF or an answer (a REJECT)
        except (ConnectionResetError, BrokenPipeError):
            return True
        except OSError as exc:  # closed by the server: ssl.SSLError on TLS, ENOTCONN after a reset
            if type(exc).__module__ == "ssl" or exc.errno == errno.ENOTCONN:
                return True
            raise
        except (socket.timeout, TimeoutError):
            return False


def fuzz(frames: int, trials: int, steps: int, seed: int, storage: str, tls: bool = False) -> dict:
    """Run the experiment under fire; the figures of the report."""
    rng = random.Random(seed)
    made: list[_server.TrialServer] = []
    original = _server.TrialServer.__init__

    def recording(self: _server.TrialServer, *args: object, **kwargs: object) -> None:
        original(self, *args, **kwargs)
        made.append(self)

    sent: Counter = Counter()
    report: dict = {"frames": 0, "hangs": 0, "attack_errors": []}
    done = threading.Event()
    release = os.path.join(storage, "release")

    def attacker() -> None:
        while not made and not done.is_set():
            time.sleep(0.01)
        try:
            _throw(made[0])
        finally:
            with open(release, "w") as f:
                f.write("done")

    def _throw(server: _server.TrialServer) -> None:
        for _ in range(frames):
            if done.is_set():
                break
            category, data, authenticate = rng.choice(GENERATORS)(rng, server)
            try:
                ok = _attack(server, data, authenticate, raw=category == "random bytes")
            except OSError as exc:  # the experiment ended under us, or a real failure to connect
                if not done.is_set():
                    report["attack_errors"].append(f"{category}: {type(exc).__name__}: {exc}")
                break
            sent[category] += 1
            report["frames"] += 1
            report["hangs"] += 0 if ok else 1

    _server.TrialServer.__init__ = recording  # type: ignore[method-assign]
    thread = threading.Thread(target=attacker, daemon=True)
    started = time.monotonic()
    error = None
    cluster = _TlsCluster() if tls else None
    try:
        thread.start()
        grid = tune.Tuner(
            _counting, param_space={"t": tune.grid_search(list(range(trials))), "steps": steps, "sleep": 0.05,
                                  "release": release},
            tune_config=tune.TuneConfig(executor=cluster.executor if cluster else None),
            run_config=tune.RunConfig(storage_path=storage, name="fuzz", verbose=0),
        ).fit()
    except BaseException as exc:  # noqa: BLE001 - the report says what went wrong
        grid, error = None, f"{type(exc).__name__}: {exc}"
    finally:
        _server.TrialServer.__init__ = original  # type: ignore[method-assign]
        if cluster is not None:
            cluster.close()
    wall = time.monotonic() - started
    done.set()
    thread.join(_CLOSE_WAIT_S + 5)
    report.update(seed=seed, trials=trials, steps=steps, tls=tls, wall_s=round(wall, 1), by_category=dict(sent),
                  driver_error=error, trial_errors=0 if grid is None else len(grid.errors),
                  lost_rows=_lost_rows(grid, steps, trials))
    return report


class _TlsCluster:
    """A Dask ``LocalCluster`` at ``tls://127.0.0.1`` (``Security.temporary()``) and an executor on it."""

    def __init__(self) -> None:
        import distributed

        from tunesmith.execution import DaskExecutor

        security = distributed.Security.temporary()
        self.cluster = distributed.LocalCluster(n_workers=2, processes=False, threads_per_worker=1, protocol="tls://",
                                                host="127.0.0.1", dashboard_address=None, security=security,
                                                resources={"CPU": 1})
        self.client = distributed.Client(self.cluster, security=security, set_as_default=False)
        self.executor = DaskExecutor(self.client, min_workers=2)

    def close(self) -> None:
        self.executor.close()
        self.client.close()
        self.cluster.close()


def _lost_rows(grid: object, steps: int, trials: int) -> int:
    if grid is None:
        return steps * trials
    lost = 0
    for result in grid:
        with open(os.path.join(result.path, "result.json")) as f:
            seen = [json.loads(line)["n"] for line in f if line.strip()]
        lost += steps - len(set(seen)) + (len(seen) - len(set(seen)))  # missing and duplicated rows
    return lost + steps * (trials - len(list(grid)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=400)
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--storage", default=None)
    parser.add_argument("--tls", action="store_true", help="run on a Dask cluster at tls://, the server speaking TLS")
    args = parser.parse_args()
    storage = args.storage or tempfile.mkdtemp(prefix="tunesmith_fuzz_")
    report = fuzz(args.frames, args.trials, args.steps, args.seed, storage, args.tls)
    print(json.dumps(report, indent=1))
    ok = not report["driver_error"] and not report["trial_errors"] and not report["hangs"] and not report["lost_rows"]
    sys.exit(0 if ok and not report["attack_errors"] else 1)


if __name__ == "__main__":
    main()
