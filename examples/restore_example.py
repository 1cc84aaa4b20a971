"""Restore after Ctrl-C: interrupt a running experiment, then continue it with ``Tuner.restore``.

The script runs the experiment in a child process (as if in another terminal), presses
Ctrl-C there (SIGINT) once some trials have saved checkpoints, and restores it here:
finished trials are not run again, interrupted ones resume from their latest checkpoint,
and no step is logged twice. Then it restores once more with a larger ``num_samples``,
which Ray Tune cannot do. Try it by hand too: run with ``--child``, press Ctrl-C, and run
the ``Tuner.restore(...)`` line it prints.

Run: python examples/restore_example.py --smoke-test
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

import tunesmith as tune

NAME = "restore_example"


def train(config):
    step = 0
    checkpoint = tune.get_checkpoint()
    if checkpoint:
        with checkpoint.as_directory() as folder, open(os.path.join(folder, "state.json")) as f:
            step = json.load(f)["step"] + 1
    while step < config["steps"]:
        time.sleep(config["sleep"])
        with tempfile.TemporaryDirectory() as folder:
            with open(os.path.join(folder, "state.json"), "w") as f:
                json.dump({"step": step}, f)
            tune.report({"step": step, "score": config["x"] * step},
                        checkpoint=tune.Checkpoint.from_directory(folder))
        step += 1


def run_experiment(storage, steps, num_samples):
    tune.Tuner(
        train,
        param_space={"x": tune.uniform(0, 1), "steps": steps, "sleep": 0.2},
        tune_config=tune.TuneConfig(metric="score", mode="max", num_samples=num_samples, max_concurrent_trials=2),
        run_config=tune.RunConfig(name=NAME, storage_path=storage, verbose=1),
    ).fit()


def checkpoints_in_journal(path):
    try:
        with open(os.path.join(path, "journal.jsonl")) as f:
            return sum(json.loads(line).get("event") == "checkpoint" for line in f if line.strip())
    except FileNotFoundError:
        return 0


def interrupt_a_run(storage, steps, num_samples):
    child = subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), "--child", "--storage", storage,
         "--steps", str(steps), "--num-samples", str(num_samples)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    path = os.path.join(storage, NAME)
    deadline = time.monotonic() + 120
    while checkpoints_in_journal(path) < steps + 2 and time.monotonic() < deadline and child.poll() is None:
        time.sleep(0.1)
    child.send_signal(signal.SIGINT)                    # the first Ctrl-C stops gracefully
    out, _ = child.communicate(timeout=120)
    print("--- the interrupted run's last lines ---")
    print("\n".join(out.strip().splitlines()[-4:]))
    return path


def logged_steps(result):
    with open(os.path.join(result.path, "result.json")) as f:
        return [json.loads(line)["step"] for line in f if line.strip()]


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke-test", action="store_true", help="Finish quickly for testing")
    parser.add_argument("--child", action="store_true", help="Just run the experiment (Ctrl-C it yourself)")
    parser.add_argument("--storage", default=None)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--num-samples", type=int, default=None)
    args, _ = parser.parse_known_args(argv)
    steps = args.steps or (6 if args.smoke_test else 20)
    num_samples = args.num_samples or (4 if args.smoke_test else 8)
    storage = args.storage or os.environ.get("TUNESMITH_STORAGE_PATH") or tempfile.mkdtemp()
    if args.child:
        run_experiment(storage, steps, num_samples)
        return

    path = interrupt_a_run(storage, steps, num_samples)
    print(f"Can restore: {tune.Tuner.can_restore(path)}")
    results = tune.Tuner.restore(path, train).fit()
    for result in results:
        assert logged_steps(result) == list(range(steps)), logged_steps(result)  # nothing lost, nothing twice
    print(f"Restored: {len(results)} trials, {results.num_terminated} finished, every step logged once")
    # The trials the interrupted run had not yet created are created by the restore.
    assert len(results) == num_samples, f"the restore ran {len(results)} trials; num_samples={num_samples}"

    results = tune.Tuner.restore(path, train, num_samples=num_samples + 2).fit()
    print(f"Restored with num_samples={num_samples + 2}: {len(results)} trials")
    best = results.get_best_result()
    print(f"Best x={best.config['x']:.3f} score={best.metrics['score']:.3f}")


if __name__ == "__main__":
    main()
