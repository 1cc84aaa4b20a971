"""Every executor passes the executor contract (tunesmith.testing.check_executor)."""

import pytest

from tunesmith.execution import LocalExecutor
from tunesmith.testing import check_executor


def test_local_executor_contract(tmp_path):
    check_executor(lambda: LocalExecutor(num_cpus=2, num_gpus=2), tmp_path)


@pytest.mark.slow
def test_local_executor_without_worker_reuse_contract(tmp_path):
    check_executor(lambda: LocalExecutor(num_cpus=2, reuse_workers=False), tmp_path)


def test_dask_executor_contract(tmp_path, dask_cluster):
    from tunesmith.execution import DaskExecutor

    check_executor(lambda: DaskExecutor(dask_cluster.address), tmp_path)


@pytest.mark.slow
def test_dask_local_cluster_contract(tmp_path):
    from tunesmith.execution import DaskExecutor

    check_executor(lambda: DaskExecutor.local(n_workers=2, gpus_per_worker=1), tmp_path)


@pytest.mark.slow
def test_dask_executor_over_tls_contract(tmp_path, tls_dask_client):
    """A scheduler at tls://: every trial connection is TLS, and the contract holds the same."""
    from tunesmith.execution import DaskExecutor

    check_executor(lambda: DaskExecutor(tls_dask_client), tmp_path)
