import pytest

from dask_cli_cluster import CliCluster
from tunesmith.execution import _server

#: Worker name -> the fake GPUs it owns (its CUDA_VISIBLE_DEVICES); each has CPU=1, GPU=2.
DASK_WORKER_DEVICES = {"w0": "10,11", "w1": "20,21", "w2": "30,31"}


@pytest.fixture(scope="session")
def dask_cluster(tmp_path_factory):
    """``dask scheduler`` and 3 ``dask worker`` processes on 127.0.0.1, shared by the test session."""
    distributed = pytest.importorskip("distributed")
    cli = CliCluster(str(tmp_path_factory.mktemp("dask")))
    try:
        for name, devices in DASK_WORKER_DEVICES.items():
            cli.add_worker(name, "CPU=1,GPU=2", cuda=devices)
        with distributed.Client(cli.address, set_as_default=False) as client:
            cli.wait_for_workers(client, len(DASK_WORKER_DEVICES))
        yield cli
    finally:
        cli.close()


@pytest.fixture(scope="session")
def tls_dask_client():
    """A ``distributed.Client`` of a ``LocalCluster`` at ``tls://127.0.0.1`` (``Security.temporary()``),
    2 in-process workers of 1 CPU each, shared by the test session."""
    distributed = pytest.importorskip("distributed")
    pytest.importorskip("cryptography")
    security = distributed.Security.temporary()
    with distributed.LocalCluster(n_workers=2, processes=False, threads_per_worker=1, protocol="tls://",
                                  host="127.0.0.1", dashboard_address=None, security=security,
                                  resources={"CPU": 1}) as cluster:
        with distributed.Client(cluster, security=security, set_as_default=False) as client:
            yield client


@pytest.fixture
def servers(monkeypatch):
    """Every ``TrialServer`` made while the test runs, in order: the Tuner's own, to attack it
    or to read its traffic counters afterwards."""
    made = []
    original = _server.TrialServer.__init__

    def recording(self, *args, **kwargs):
        original(self, *args, **kwargs)
        made.append(self)

    monkeypatch.setattr(_server.TrialServer, "__init__", recording)
    return made
