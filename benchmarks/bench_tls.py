"""What TLS on the trial connection costs the driver: CPU per result, plain TCP against TLS.

Usage:
    python benchmarks/bench_tls.py [--results 20000] [--repeat 2]

A trial process (a plain ``python -c`` client, started per run) says HELLO with its
ticket, then sends ``--results`` small RESULT frames as fast as it can and DONE; the
driver's ``TrialServer`` reads them all. Runs alternate plain and TLS (A B A B); each line
gives the driver's CPU time per result (``getrusage``), the wall time and the load average.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time

from tunesmith import _protocol
from tunesmith.execution import _server

_CLIENT = r"""
import socket, sys
from tunesmith import _protocol
from tunesmith.execution import _wire
host, port, ticket, cert, count = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
sock = socket.create_connection((host, port))
if cert != "-":
    from tunesmith.execution._tls import wrap_client
    sock = wrap_client(sock, open(cert).read())
_wire.send_frame(sock, _protocol.Hello("t1", 0, {"cached": ["k"]}, ticket))
_wire.recv_frame(sock)
for i in range(count):
    _wire.send_frame(sock, _protocol.Result(i, {"loss": 0.5, "step": i}, None, False))
_wire.send_frame(sock, _protocol.Done(_protocol.DoneReason.FINISHED))
sock.recv(1)
"""


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_once(tls: bool, results: int, folder: str) -> dict:
    """One client's ``results`` through a fresh server; the driver's figures."""
    server = _server.TrialServer(tls=tls)
    server.add_trainable("k", b"x")
    server.expect("t1", 0, _protocol.Assignment(trial_id="t1", trial_name="t1", trial_dir=folder, experiment_name="e",
                                                resources={}, attempt=0, trainable_key="k"))
    cert = "-"
    if server.certificate is not None:
        cert = os.path.join(folder, "cert.pem")
        with open(cert, "w") as f:
            f.write(server.certificate)
    host, port = server.address.rsplit(":", 1)
    cpu, started = _cpu(), time.monotonic()
    client = subprocess.Popen([sys.executable, "-c", _CLIENT, host, port, server.ticket("t1", 0), cert, str(results)])
    seen, done = 0, False
    while not done:
        for event in server.poll(0.5):
            seen += event.kind == "result"
            done = done or event.kind == "done"
    cpu, wall = _cpu() - cpu, time.monotonic() - started
    server.close()
    client.wait()
    return {"tls": tls, "results": seen, "driver_cpu_us_per_result": round(cpu / seen * 1e6, 1),
            "wall_s": round(wall, 2), "load": round(os.getloadavg()[0], 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(args.repeat):
            for tls in (False, True):
                print(run_once(tls, args.results, folder), flush=True)


if __name__ == "__main__":
    main()
