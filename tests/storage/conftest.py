import os
import signal
import socket
import subprocess
import sys
import time

import pytest


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def s3_endpoint():
    """moto's S3 server on 127.0.0.1, as its own process; stopped by pid."""
    pytest.importorskip("moto.server")
    pytest.importorskip("s3fs")
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    yield endpoint
    os.kill(proc.pid, signal.SIGTERM)
    proc.wait(10)


@pytest.fixture
def s3(s3_endpoint, request):
    """An s3fs filesystem configured the way a MinIO user would, with a fresh bucket."""
    import s3fs

    fs = s3fs.S3FileSystem(key="testing", secret="testing", endpoint_url=s3_endpoint, skip_instance_cache=True)
    bucket = f"bucket-{abs(hash(request.node.name)) % 10**8}"
    fs.mkdir(bucket)
    return fs, bucket
