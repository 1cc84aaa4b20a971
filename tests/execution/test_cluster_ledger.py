import pytest

from tunesmith.execution._resources import ClusterLedger, ResourceLedger


def _cluster(**nodes):
    ledger = ClusterLedger()
    for name, (cpu, gpu) in nodes.items():
        ledger.add_node(name, ResourceLedger(cpu=cpu, gpu=gpu))
    return ledger


def test_requests_spread_over_nodes_and_never_overcommit_one():
    ledger = _cluster(a=(2, 0), b=(2, 0), c=(1, 0))
    nodes = [ledger.allocate({"cpu": 1}).node for _ in range(5)]
    assert sorted(nodes) == ["a", "a", "b", "b", "c"] and nodes[:3] != ["a", "a", "a"]
    assert ledger.allocate({"cpu": 1}) is None
    assert ledger.free["cpu"] == 0 and ledger.total["cpu"] == 5


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        ({"avoid": "a"}, "b"),                 # another node fits: the avoided one is not used
        ({"avoid": "a", "exclude": {"b"}}, "a"),  # only the avoided one fits: used all the same
        ({"prefer": "b"}, "b"),
        ({"exclude": {"a", "b"}}, None),       # excluded nodes are never used
    ],
)
def test_avoid_prefer_exclude(kwargs, expected):
    ledger = _cluster(a=(4, 0), b=(1, 0))
    allocation = ledger.allocate({"cpu": 1}, **kwargs)
    assert (allocation.node if allocation else None) == expected


def test_fractional_gpus_pack_within_a_node():
    ledger = _cluster(a=(8, 2))
    shares = [ledger.allocate({"cpu": 0, "gpu": 0.5}).gpu_ids for _ in range(4)]
    assert shares == [[0], [0], [1], [1]]
    assert ledger.allocate({"cpu": 0, "gpu": 0.5}) is None


def test_infeasible_lists_what_each_node_has():
    ledger = _cluster(a=(1, 2), b=(4, 0))
    assert ledger.infeasible_reason({"cpu": 2}) is None  # b can
    reason = ledger.infeasible_reason({"cpu": 2, "gpu": 1})
    assert reason == ("it asks for cpu=2, gpu=1 but no worker has that much; "
                      "the workers have a: cpu=1 gpu=2; b: cpu=4")
    assert "there are no workers" in ClusterLedger().infeasible_reason({"cpu": 1})


def test_a_node_that_leaves_takes_its_allocations_with_it():
    ledger = _cluster(a=(1, 0), b=(1, 0))
    held = ledger.allocate({"cpu": 1}, prefer="a")
    ledger.remove_node("a")
    ledger.release(held)  # harmless
    assert ledger.total["cpu"] == 1 and ledger.free["cpu"] == 1
    ledger.add_node("c", ResourceLedger(cpu=2))  # a worker joining mid-run
    assert ledger.allocate({"cpu": 2}).node == "c"
