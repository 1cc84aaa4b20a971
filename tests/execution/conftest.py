import pytest

from dask_cli_cluster import CliCluster

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
