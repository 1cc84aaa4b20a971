"""Dask on a local cluster: the same Tuner, with its trials placed by Dask.

``DaskExecutor.local`` starts a Dask ``LocalCluster`` on 127.0.0.1 (its workers are
threads of this process; each trial still runs in its own process). On a real cluster,
pass ``DaskExecutor(distributed.Client("tcp://scheduler:8786"))`` instead, or call
``tunesmith.init(address="tcp://scheduler:8786")`` once: nothing else changes.

Run: python examples/dask_example.py --smoke-test
"""

import argparse
import os

import tunesmith as tune
from tunesmith.execution import DaskExecutor
from tunesmith.schedulers import ASHAScheduler


def train(config):
    for step in range(1, config["steps"] + 1):
        tune.report({"loss": (config["x"] - 0.7) ** 2 + 1 / step, "pid": os.getpid()})


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke-test", action="store_true", help="Finish quickly for testing")
    parser.add_argument("--address", default=None, help="A Dask scheduler, e.g. tcp://scheduler:8786")
    args, _ = parser.parse_known_args(argv)

    if args.address:
        from distributed import Client

        executor = DaskExecutor(Client(args.address))
    else:
        executor = DaskExecutor.local(n_workers=2, cpus_per_worker=1)
    try:
        results = tune.Tuner(
            train,
            param_space={"x": tune.uniform(0, 1), "steps": 5 if args.smoke_test else 50},
            tune_config=tune.TuneConfig(metric="loss", mode="min", num_samples=4 if args.smoke_test else 32,
                                        scheduler=ASHAScheduler(grace_period=2), executor=executor),
            run_config=tune.RunConfig(name="dask_example", verbose=1),
        ).fit()
    finally:
        executor.close()
    best = results.get_best_result()
    pids = {r.metrics["pid"] for r in results}
    print(f"Dask ran {len(results)} trials in {len(pids)} processes; best x={best.config['x']:.3f}")


if __name__ == "__main__":
    main()
