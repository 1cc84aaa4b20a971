"""On Dask, other clients of the scheduler can read every task's arguments: they must find
no key to the driver there (a one-time ticket, spent by the time they can read it). On a
cluster at ``tls://`` they find the trial server's certificate, which is public, and not
its key; the trial connection is TLS."""

import re
import socket
import threading
import time

import pytest

import tunesmith as tune
from tunesmith import _protocol
from tunesmith.execution import _wire

distributed = pytest.importorskip("distributed")

from tunesmith.execution import DaskExecutor  # noqa: E402


def _task_arguments(dask_scheduler):
    """Run on the scheduler by the other client: what any client can see of our tasks."""
    import pickle

    return {key: pickle.dumps(ts.run_spec) for key, ts in dask_scheduler.tasks.items()
            if str(key).startswith("tunesmith-")}


def _hello_with(address, trial_id, attempt, ticket, certificate):
    host, port = address.rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=10)
    if certificate is not None:
        from tunesmith.execution._tls import wrap_client

        sock = wrap_client(sock, certificate)
    with sock:
        _wire.send_frame(sock, _protocol.Hello(trial_id, attempt, {"cached": []}, ticket))
        try:
            reply = _wire.recv_frame(sock)
        except (_wire.ConnectionClosed, ConnectionResetError):
            return None
        return reply


@pytest.mark.parametrize("tls", [False, True], ids=["tcp", "tls"])
def test_another_client_of_the_scheduler_cannot_authenticate_with_what_it_reads(run, servers, tmp_path, tls, request):
    release = tmp_path / "release"

    def train(config):
        tune.report({"step": 0})
        while not release.exists():
            time.sleep(0.05)
        tune.report({"step": 1})

    if tls:
        client = request.getfixturevalue("tls_dask_client")
        executor = DaskExecutor(client, min_workers=2)
        security = client.security
    else:
        executor, security = DaskExecutor.local(n_workers=1), None
    seen = {}

    def intruder():
        try:
            while not servers or not servers[0]._by_trial:  # the trial has said HELLO
                time.sleep(0.05)
            with distributed.Client(executor.client.scheduler.address, security=security,
                                    set_as_default=False) as other:
                seen.update(other.run_on_scheduler(_task_arguments))
            [(key, spec)] = seen.items()
            trial_id, attempt = re.fullmatch(r"tunesmith-[0-9a-f]+-(.+)-(\d+)", key).groups()
            [ticket] = {t.decode() for t in re.findall(rb"[0-9a-f]{32}", spec)}
            certificate = servers[0].certificate
            seen["reply"] = _hello_with(servers[0].address, trial_id, int(attempt), ticket, certificate)
            seen["forged"] = _hello_with(servers[0].address, trial_id, int(attempt) + 1, ticket, certificate)
        except Exception as exc:
            seen["error"] = exc
        finally:
            release.write_text("go")

    thread = threading.Thread(target=intruder, daemon=True)
    thread.start()
    try:
        [result] = run(train, executor=executor)
    finally:
        executor.close()
    thread.join(30)
    assert "error" not in seen, seen.get("error")
    server = servers[0]
    spec = next(v for k, v in seen.items() if k.startswith("tunesmith-"))
    assert server.token.encode() not in spec and b"token" not in spec
    assert b"PRIVATE KEY" not in spec
    assert (server.certificate is not None) is tls
    assert tls is (server.certificate is not None and server.certificate.encode() in spec)
    assert seen["reply"] is None and seen["forged"] is None  # spent, and not valid for another attempt
    assert result.error is None and result.metrics["step"] == 1


def _counts(config):
    for step in range(4):
        tune.report({"score": config["x"] * 10 + step})


@pytest.mark.parametrize("reuse_actors", [False, True], ids=["fork-per-attempt", "reuse-actors"])
def test_on_a_tls_cluster_every_result_arrives_over_tls(run, servers, tls_dask_client, reuse_actors):
    executor = DaskExecutor(tls_dask_client, min_workers=2)
    try:
        grid = run(_counts, {"x": tune.grid_search([0, 1, 2, 3])}, metric="score", mode="max", executor=executor,
                   reuse_actors=reuse_actors)
    finally:
        executor.close()
    assert servers[0].certificate is not None and servers[0].stats.assignments == 4
    assert not grid.errors
    assert sorted(r.metrics["score"] for r in grid) == [3, 13, 23, 33]
    assert all(len(r.metrics_dataframe) == 4 for r in grid)


@pytest.mark.parametrize(("trial_tls", "expected"), [(None, True), (True, True), (False, False)])
def test_trial_tls_follows_the_scheduler_unless_given(tls_dask_client, trial_tls, expected):
    executor = DaskExecutor(tls_dask_client, trial_tls=trial_tls)
    try:
        assert executor.trial_tls() is expected
    finally:
        executor.close()


def test_trial_tls_on_request_on_a_tcp_cluster(run, servers):
    executor = DaskExecutor.local(n_workers=1, trial_tls=True)
    try:
        assert executor.client.scheduler.address.startswith("tcp://")
        grid = run(_counts, {"x": tune.grid_search([0, 1])}, metric="score", mode="max", executor=executor)
    finally:
        executor.close()
    assert servers[0].certificate is not None
    assert sorted(r.metrics["score"] for r in grid) == [3, 13]


@pytest.mark.parametrize("trial_tls", ["yes", 1])
def test_trial_tls_must_be_a_bool_or_none(trial_tls):
    with pytest.raises(TypeError, match=r"trial_tls must be True, False or None .*got"):
        DaskExecutor("tcp://127.0.0.1:1", trial_tls=trial_tls)
