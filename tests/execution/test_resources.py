import pytest

import tunesmith as tune
from tunesmith.execution._resources import ResourceLedger


@pytest.mark.parametrize(
    "requests, expected_ids",
    [
        ([0.5, 0.5], [[0], [0]]),                 # two halves share one device
        ([0.5, 0.5, 0.5], [[0], [0], [1]]),
        ([1, 0.5], [[0], [1]]),
        ([0.25, 0.75, 0.5], [[0], [0], [1]]),     # best fit fills device 0 first
        ([2, 1], [[0, 1], [2]]),
        ([0.3, 1], [[0], [1]]),
    ],
)
def test_gpu_packing(requests, expected_ids):
    ledger = ResourceLedger(cpu=8, gpu=4)
    got = [ledger.allocate({"cpu": 1, "gpu": g}).gpu_ids for g in requests]
    assert got == expected_ids


def test_ledger_waits_and_releases():
    ledger = ResourceLedger(cpu=2, gpu=1)
    a = ledger.allocate({"cpu": 1, "gpu": 1})
    assert ledger.allocate({"cpu": 1, "gpu": 0.5}) is None
    ledger.release(a)
    assert ledger.allocate({"cpu": 1, "gpu": 0.5}).gpu_ids == [0]
    assert ledger.free["cpu"] == 1


@pytest.mark.parametrize(
    "request_, reason",
    [
        ({"cpu": 3}, "cpu=3 but this machine has cpu=2"),
        ({"cpu": 1, "gpu": 5}, "gpu=5 but this machine has gpu=4"),
        ({"cpu": 1, "gpu": 1.5}, "whole number of GPUs"),
        ({"cpu": 1, "tpu": 1}, "tpu=1 but this machine has tpu=0"),
    ],
)
def test_infeasible_requests(request_, reason):
    assert reason in ResourceLedger(cpu=2, gpu=4).infeasible_reason(request_)


def test_fake_gpus_set_cuda_visible_devices(run):
    import os

    tune.init(num_cpus=4, num_gpus=4)

    def train(config):
        return {"cuda": os.environ["CUDA_VISIBLE_DEVICES"]}

    results = run(tune.with_resources(train, {"cpu": 1, "gpu": 0.5}), {"i": tune.grid_search(list(range(4)))})
    devices = sorted(r.metrics["cuda"] for r in results)
    assert all(d in {"0", "1", "2", "3"} for d in devices)
    whole = run(tune.with_resources(train, {"cpu": 1, "gpu": 2}), {"i": tune.grid_search([0, 1])},
                run_config={"name": "whole"})
    assert sorted(r.metrics["cuda"] for r in whole) in (["0,1", "2,3"], ["0,1", "0,1"], ["2,3", "2,3"])
    cpu_only = run(train, run_config={"name": "cpu"})
    assert cpu_only[0].metrics["cuda"] == ""


def test_concurrent_fractional_trials_share_a_device(run):
    import os
    import time

    tune.init(num_cpus=2, num_gpus=1)

    def train(config):
        tune.report({"start": time.time(), "cuda": os.environ["CUDA_VISIBLE_DEVICES"]})
        time.sleep(0.5)
        tune.report({"end": time.time()})

    results = run(tune.with_resources(train, {"cpu": 1, "gpu": 0.5}), {"i": tune.grid_search([0, 1])})
    starts = [r.metrics_dataframe["start"].iloc[0] for r in results]
    ends = [r.metrics["end"] for r in results]
    assert max(starts) < min(ends)  # both ran at once on the one device
    assert {r.metrics_dataframe["cuda"].iloc[0] for r in results} == {0} or \
        {str(r.metrics_dataframe["cuda"].iloc[0]) for r in results} == {"0"}


def test_impossible_resources_fail_at_once(run):
    tune.init(num_cpus=2)

    def train(config):
        return {"x": 1}

    with pytest.raises(tune.TuneError, match="can never run: it asks for cpu=8 but this machine has cpu=2"):
        run(tune.with_resources(train, {"cpu": 8}))


def test_init_validation():
    with pytest.raises(ValueError, match="num_cpus must be > 0"):
        tune.init(num_cpus=0)
    with pytest.raises(ValueError, match="address must be None or 'local'"):
        tune.init(address="127.0.0.1:8786")  # [scale-out] tcp:// (Dask) and ray:// addresses are tested in test_dask.py
