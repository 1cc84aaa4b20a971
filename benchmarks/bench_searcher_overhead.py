"""What tunesmith's searcher integrations add to the library's own ask/tell loop.

Usage:
    python benchmarks/bench_searcher_overhead.py [searcher ...] [--repeat 3]

For each searcher, the same problem (the 2-D quadratic ``(x - 1.5)**2 + (y + 2.5)**2`` over
``x, y ~ uniform(-10, 10)``, minimised) and the same budget run twice in this process: through
tunesmith's searcher (``suggest`` then ``on_trial_complete``, one trial at a time, no trial
processes) and through the library's own ask/tell loop with the settings tunesmith's searcher
uses. The table gives the seconds spent in suggesting and in telling (the fastest of
``--repeat`` runs, library import and searcher construction excluded) and tunesmith's
overhead, then the same for the process's CPU time (all threads: Nevergrad runs scipy's
optimizers in one), which a loaded machine disturbs less than wall time. The searchers'
models differ from run to run only by their seeds, which are fixed (ZOOpt, unseeded in both
loops, draws from NumPy's global generator, which is seeded before each run).

    optuna     OptunaSearch(seed)        / study.ask + study.tell, TPESampler(seed, constant_liar=True)
    hyperopt   HyperOptSearch(seed)      / hyperopt.fmin, tpe.suggest(n_startup_jobs=20, gamma=0.25)
                                           (fmin has no ask/tell: its total is split as tunesmith's)
    bayesopt   BayesOptSearch(seed)      / BayesianOptimization.suggest + register, UCB kappa=2.576
    nevergrad  NevergradSearch("NGOpt")  / optimizer.ask + optimizer.tell
    hebo       HEBOSearch(seed)          / HEBO.suggest + observe
    zoopt      ZOOptSearch("asracos")    / SRacosTune.suggest + complete
    ax         AxSearch(random_seed)     / ax.Client.get_next_trials + complete_trial
    bohb       TuneBOHB(seed)            / no native loop: tunesmith's BOHB is its own (hpbandster
                                           is not a dependency); its time is given alone
"""

from __future__ import annotations

import argparse
import logging
import time
import warnings
from typing import Any, Callable

BOUNDS = (-10.0, 10.0)
BUDGETS = {"optuna": 60, "hyperopt": 60, "bayesopt": 15, "nevergrad": 60, "hebo": 16, "zoopt": 60, "ax": 8,
           "bohb": 60}


def loss(config: dict[str, Any]) -> float:
    return (config["x"] - 1.5) ** 2 + (config["y"] + 2.5) ** 2


# -- tunesmith ---------------------------------------------------------------------------------------
def _space() -> dict[str, Any]:
    from tunesmith.search.sample import uniform

    return {"x": uniform(*BOUNDS), "y": uniform(*BOUNDS)}


def _tunesmith_searcher(name: str, budget: int) -> Any:
    common = {"metric": "loss", "mode": "min"}
    if name == "optuna":
        from tunesmith.search.optuna import OptunaSearch

        return OptunaSearch(_space(), seed=0, **common)
    if name == "hyperopt":
        from tunesmith.search.hyperopt import HyperOptSearch

        return HyperOptSearch(_space(), random_state_seed=0, **common)
    if name == "bayesopt":
        from tunesmith.search.bayesopt import BayesOptSearch

        return BayesOptSearch(_space(), random_state=0, **common)
    if name == "nevergrad":
        from tunesmith.search.nevergrad import NevergradSearch

        return NevergradSearch("NGOpt", {"budget": budget}, _space(), seed=0, **common)
    if name == "hebo":
        from tunesmith.search.hebo import HEBOSearch

        return HEBOSearch(_space(), random_state_seed=0, **common)
    if name == "zoopt":
        from tunesmith.search.zoopt import ZOOptSearch

        searcher = ZOOptSearch("asracos", budget=budget, **common)
        searcher.set_search_properties("loss", "min", _space())
        return searcher
    if name == "ax":
        from tunesmith.search.ax import AxSearch

        return AxSearch(_space(), random_seed=0, **common)
    if name == "bohb":
        from tunesmith.search.bohb import TuneBOHB

        return TuneBOHB(_space(), seed=0, **common)
    raise ValueError(name)


def run_tunesmith(name: str, budget: int) -> tuple[float, float]:
    searcher = _tunesmith_searcher(name, budget)
    ask = tell = 0.0
    for i in range(budget):
        began = time.perf_counter()
        config = searcher.suggest(f"t{i}")
        asked = time.perf_counter()
        if not isinstance(config, dict):
            raise RuntimeError(f"{name} gave {config!r} at trial {i} of {budget}")
        searcher.on_trial_complete(f"t{i}", {"loss": loss(config)})
        tell += time.perf_counter() - asked
        ask += asked - began
    return ask, tell


# -- the libraries' own loops --------------------------------------------------------------------------
def native_optuna(budget: int) -> tuple[float, float]:
    import optuna
    from optuna.distributions import FloatDistribution

    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=0, constant_liar=True))
    space = {"x": FloatDistribution(*BOUNDS), "y": FloatDistribution(*BOUNDS)}
    return _ask_tell(budget, lambda: study.ask(space), lambda t: t.params, lambda t, v: study.tell(t, v))


def native_hyperopt(budget: int) -> tuple[float, float]:
    import functools

    import hyperopt
    import numpy as np

    space = {"x": hyperopt.hp.uniform("x", *BOUNDS), "y": hyperopt.hp.uniform("y", *BOUNDS)}
    algo = functools.partial(hyperopt.tpe.suggest, n_startup_jobs=20, gamma=0.25)
    began = time.perf_counter()
    hyperopt.fmin(loss, space, algo=algo, max_evals=budget, trials=hyperopt.Trials(),
                  rstate=np.random.default_rng(0), show_progressbar=False)
    return time.perf_counter() - began, 0.0


def native_bayesopt(budget: int) -> tuple[float, float]:
    import bayes_opt

    optimizer = bayes_opt.BayesianOptimization(f=None, pbounds={"x": BOUNDS, "y": BOUNDS}, random_state=0,
                                               verbose=0, allow_duplicate_points=True)
    if hasattr(bayes_opt, "acquisition"):
        suggest = optimizer.suggest
    else:
        utility = bayes_opt.UtilityFunction(kind="ucb", kappa=2.576, xi=0.0)
        suggest = lambda: optimizer.suggest(utility)  # noqa: E731
    return _ask_tell(budget, suggest, lambda p: p, lambda p, v: optimizer.register(params=p, target=-v))


def native_nevergrad(budget: int) -> tuple[float, float]:
    from tunesmith.search.nevergrad._nevergrad_search import _import_nevergrad

    ng = _import_nevergrad()
    parametrization = ng.p.Dict(x=ng.p.Scalar(lower=BOUNDS[0], upper=BOUNDS[1]),
                                y=ng.p.Scalar(lower=BOUNDS[0], upper=BOUNDS[1]))
    parametrization.random_state.seed(0)
    optimizer = ng.optimizers.NGOpt(parametrization=parametrization, budget=budget)
    return _ask_tell(budget, optimizer.ask, lambda c: c.value, optimizer.tell)


def native_hebo(budget: int) -> tuple[float, float]:
    import numpy as np
    from hebo.design_space.design_space import DesignSpace
    from hebo.optimizers.hebo import HEBO

    space = DesignSpace().parse([{"name": n, "type": "num", "lb": BOUNDS[0], "ub": BOUNDS[1]} for n in "xy"])
    optimizer = HEBO(space, scramble_seed=0)
    return _ask_tell(budget, lambda: optimizer.suggest(n_suggestions=1), lambda frame: frame.iloc[0].to_dict(),
                     lambda frame, v: optimizer.observe(frame, np.array([[v]])))


def native_zoopt(budget: int) -> tuple[float, float]:
    import zoopt
    from zoopt.algos.opt_algorithms.racos.sracos import SRacosTune

    dimension = zoopt.Dimension2([(zoopt.ValueType.CONTINUOUS, list(BOUNDS), 1e-6)] * 2)
    optimizer = SRacosTune(dimension=dimension, parameter=zoopt.Parameter(budget=budget), parallel_num=1)

    def ask() -> Any:
        solution = optimizer.suggest()
        if solution is None:  # SRacosTune's pause after its initial samples never ends one at a time
            optimizer.semaphore = 1  # (ZOOptSearch works around it the same way)
            solution = optimizer.suggest()
        return solution

    return _ask_tell(budget, ask, lambda s: dict(zip("xy", s.get_x())), optimizer.complete)


def native_ax(budget: int) -> tuple[float, float]:
    from ax import Client, RangeParameterConfig

    client = Client(random_seed=0)
    client.configure_experiment(parameters=[RangeParameterConfig(name=n, parameter_type="float", bounds=BOUNDS)
                                            for n in "xy"])
    client.configure_optimization(objective="-loss")

    def ask() -> tuple[int, dict]:
        ((index, parameters),) = client.get_next_trials(max_trials=1).items()
        return index, parameters

    return _ask_tell(budget, ask, lambda trial: trial[1],
                     lambda trial, v: client.complete_trial(trial[0], raw_data={"loss": v}))


def _ask_tell(budget: int, ask: Callable[[], Any], config_of: Callable[[Any], dict],
              tell: Callable[[Any, float], Any]) -> tuple[float, float]:
    asking = telling = 0.0
    for _ in range(budget):
        began = time.perf_counter()
        handle = ask()
        asked = time.perf_counter()
        tell(handle, loss(config_of(handle)))
        telling += time.perf_counter() - asked
        asking += asked - began
    return asking, telling


NATIVE: dict[str, Callable[[int], tuple[float, float]] | None] = {
    "optuna": native_optuna, "hyperopt": native_hyperopt, "bayesopt": native_bayesopt,
    "nevergrad": native_nevergrad, "hebo": native_hebo, "zoopt": native_zoopt, "ax": native_ax, "bohb": None,
}


def _best(runs: list[tuple[float, float]]) -> tuple[float, float]:
    """The fastest run: on a shared machine, the one least slowed by other jobs."""
    return min(runs, key=sum)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("searchers", nargs="*", default=list(NATIVE))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    warnings.filterwarnings("ignore")
    print(f"{'searcher':10s} {'budget':>6s} {'ts suggest':>10s} {'ts tell':>8s} {'lib ask':>8s} {'lib tell':>8s} "
          f"{'overhead':>9s} {'ts cpu':>8s} {'lib cpu':>8s} {'cpu ovh':>8s} {'us/trial':>9s}")
    for name in args.searchers:
        budget = BUDGETS[name]
        warm = budget if name == "zoopt" else 2  # ZOOpt refuses a budget that small
        run_tunesmith(name, warm)  # imports and first-use costs, outside the clock
        native = NATIVE[name]
        if native is not None:
            native(warm)
        ours, theirs, our_cpu, their_cpu = [], [], [], []
        for _ in range(args.repeat):  # A B A B: the machine's load hits both alike
            ours.append(_cpu_timed(name, lambda: run_tunesmith(name, budget), our_cpu))
            if native is not None:
                theirs.append(_cpu_timed(name, lambda: native(budget), their_cpu))
        ask, tell = _best(ours)
        if native is None:
            print(f"{name:10s} {budget:6d} {ask:10.3f} {tell:8.3f} {'-':>8s} {'-':>8s} {'-':>9s} {min(our_cpu):8.3f}",
                  flush=True)
            continue
        lib_ask, lib_tell = _best(theirs)
        overhead = (ask + tell) / (lib_ask + lib_tell) - 1
        cpu_overhead = min(our_cpu) / min(their_cpu) - 1
        per_trial_us = (min(our_cpu) - min(their_cpu)) / budget * 1e6
        print(f"{name:10s} {budget:6d} {ask:10.3f} {tell:8.3f} {lib_ask:8.3f} {lib_tell:8.3f} {overhead:+9.1%} "
              f"{min(our_cpu):8.3f} {min(their_cpu):8.3f} {cpu_overhead:+8.1%} {per_trial_us:+9.0f}", flush=True)


def _cpu_timed(name: str, run: Callable[[], tuple[float, float]], cpu: list[float]) -> tuple[float, float]:
    """``run()``'s suggest and tell seconds; appends the process CPU seconds it took to ``cpu``."""
    if name == "zoopt":  # both loops draw from NumPy's global generator
        import numpy as np

        np.random.seed(0)
    began = time.process_time()
    wall = run()
    cpu.append(time.process_time() - began)
    return wall


if __name__ == "__main__":
    main()
