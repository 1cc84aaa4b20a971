"""Search quality on a 2-D quadratic: random search against Optuna TPE and HyperOpt TPE.

Usage:
    python benchmarks/bench_searchers_quadratic.py [--trials 30] [--seeds 10]

Each searcher is driven through tunesmith's searcher API directly (``suggest`` then
``on_trial_complete``, one trial at a time), so a whole search takes milliseconds to a
second and no trial processes are involved. The loss is
``(x - 1.5)**2 + (y + 2.5)**2`` over ``x, y ~ uniform(-10, 10)`` (minimum 0). For each
searcher the table gives the best loss after ``--trials`` trials, averaged over seeds
``0 .. --seeds - 1``, with its median, standard deviation and the worst seed. Each
searcher runs with its defaults, as a user would get it:

    random    BasicVariantGenerator(random_state=seed)
    optuna    OptunaSearch(seed=seed)                 (TPE, 10 random startup trials)
    hyperopt  HyperOptSearch(random_state_seed=seed)  (TPE, 20 random startup trials)

``tests/search/test_search_quality.py`` asserts what this measures.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
from typing import Any, Callable

SPACE_BOUNDS = (-10.0, 10.0)


def quadratic(config: dict[str, Any]) -> float:
    """The loss: 0 at x=1.5, y=-2.5."""
    return (config["x"] - 1.5) ** 2 + (config["y"] + 2.5) ** 2


def space() -> dict[str, Any]:
    from tunesmith.search.sample import uniform

    return {"x": uniform(*SPACE_BOUNDS), "y": uniform(*SPACE_BOUNDS)}


def best_of_random(seed: int, trials: int) -> float:
    """Best loss of ``trials`` configs from the default search algorithm."""
    from tunesmith.search import BasicVariantGenerator

    generator = BasicVariantGenerator(random_state=seed)
    generator.add_configurations(space(), num_samples=trials)
    losses = []
    for _ in range(trials):
        suggestion = generator.next_trial()
        losses.append(quadratic(suggestion.config))
        generator.on_trial_complete(suggestion.trial_id, {"loss": losses[-1]})
    return min(losses)


def best_of_searcher(searcher: Any, trials: int) -> float:
    """Best loss of a ``Searcher`` asked for one trial at a time."""
    searcher.set_search_properties("loss", "min", space())
    best = float("inf")
    for i in range(trials):
        config = searcher.suggest(f"trial{i}")
        loss = quadratic(config)
        searcher.on_trial_complete(f"trial{i}", {"loss": loss})
        best = min(best, loss)
    return best


def optuna_tpe(seed: int) -> Any:
    import optuna

    from tunesmith.search.optuna import OptunaSearch

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return OptunaSearch(seed=seed)


def hyperopt_tpe(seed: int) -> Any:
    from tunesmith.search.hyperopt import HyperOptSearch

    return HyperOptSearch(random_state_seed=seed)


SEARCHERS: dict[str, Callable[[int, int], float]] = {
    "random": best_of_random,
    "optuna": lambda seed, trials: best_of_searcher(optuna_tpe(seed), trials),
    "hyperopt": lambda seed, trials: best_of_searcher(hyperopt_tpe(seed), trials),
}


def measure(trials: int, seeds: int) -> dict[str, dict[str, float]]:
    """``{searcher: {"mean", "median", "stdev", "worst", "seconds"}}`` of the best loss."""
    table = {}
    for name, run in SEARCHERS.items():
        start = time.perf_counter()
        bests = [run(seed, trials) for seed in range(seeds)]
        table[name] = {
            "mean": statistics.mean(bests),
            "median": statistics.median(bests),
            "stdev": statistics.stdev(bests) if len(bests) > 1 else 0.0,
            "worst": max(bests),
            "seconds": (time.perf_counter() - start) / seeds,
        }
    return table


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--seeds", type=int, default=10)
    args = parser.parse_args(argv)
    logging.getLogger("hyperopt").setLevel(logging.WARNING)
    table = measure(args.trials, args.seeds)
    print(f"best loss after {args.trials} trials, over seeds 0-{args.seeds - 1} (lower is better; minimum 0)")
    print(f"{'searcher':<10}{'mean':>10}{'median':>10}{'stdev':>10}{'worst':>10}{'s/search':>10}{'vs random':>11}")
    for name, row in table.items():
        ratio = row["mean"] / table["random"]["mean"]
        print(f"{name:<10}{row['mean']:>10.3f}{row['median']:>10.3f}{row['stdev']:>10.3f}{row['worst']:>10.3f}"
              f"{row['seconds']:>10.2f}{ratio:>10.2f}x")


if __name__ == "__main__":
    main()
