"""The experiment of Ray Tune's ``custom_checkpointing_with_callback.py``, written for
tunesmith: a callback that asks for checkpoints by setting ``should_checkpoint`` in a
result, when the loss improves a lot, becomes unstable, or reaches a milestone.

Run: python examples/custom_checkpointing_with_callback.py --smoke-test
"""

import argparse
import json
import os
import statistics
import time

import tunesmith as tune
from tunesmith import Callback

SHOULD_CHECKPOINT = "should_checkpoint"  # Ray Tune's ray.tune.result.SHOULD_CHECKPOINT


def evaluation_fn(step, width, height):
    time.sleep(0.1)
    return (0.1 + width * step / 100) ** (-1) + height * 0.1


class SmartCheckpointCallback(Callback):
    """Requests a checkpoint on a 10% improvement, on a noisy loss, and every 10 steps."""

    def __init__(self, *, checkpoint_on_improvement=True, checkpoint_on_instability=True):
        self.checkpoint_on_improvement = checkpoint_on_improvement
        self.checkpoint_on_instability = checkpoint_on_instability
        self.best_loss = {}
        self.recent_losses = {}

    def on_trial_result(self, iteration, trials, trial, result, **info):
        loss = result.get("mean_loss", float("inf"))
        step = result.get("iterations", 0)
        best = self.best_loss.setdefault(trial.trial_id, float("inf"))
        recent = self.recent_losses.setdefault(trial.trial_id, [])
        recent.append(loss)
        del recent[:-5]

        reasons = []
        if step > 0 and step % 10 == 0:
            reasons.append(f"milestone at step {step}")
        if self.checkpoint_on_improvement and loss < best * 0.9:
            reasons.append(f"improvement: {loss:.4f} < {best:.4f}")
            self.best_loss[trial.trial_id] = loss
        if self.checkpoint_on_instability and step > 5 and len(recent) == 5:
            variance = statistics.pvariance(recent)
            if variance > 0.1:
                reasons.append(f"instability: variance={variance:.4f}")
        if reasons:
            print(f"Callback requests a checkpoint of trial {trial.trial_id} at step {step}: {'; '.join(reasons)}")
            result[SHOULD_CHECKPOINT] = True


class OptimizationTrainable(tune.Trainable):
    def setup(self, config):
        self.current_step = 0
        self.width = config["width"]
        self.height = config["height"]

    def step(self):
        score = evaluation_fn(self.current_step, self.width, self.height)
        self.current_step += 1
        return {"iterations": self.current_step, "mean_loss": score, "step": self.current_step}

    def save_checkpoint(self, checkpoint_dir):
        with open(os.path.join(checkpoint_dir, "checkpoint.json"), "w") as f:
            json.dump({"step": self.current_step, "width": self.width, "height": self.height}, f)
        print(f"Checkpoint saved at step {self.current_step}")

    def load_checkpoint(self, checkpoint_dir):
        with open(os.path.join(checkpoint_dir, "checkpoint.json")) as f:
            state = json.load(f)
        self.current_step, self.width, self.height = state["step"], state["width"], state["height"]
        print(f"Checkpoint loaded from step {self.current_step}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke-test", action="store_true", help="Finish quickly for testing")
    args, _ = parser.parse_known_args()

    tuner = tune.Tuner(
        OptimizationTrainable,
        run_config=tune.RunConfig(
            name="smart_checkpoint_example",
            stop={"training_iteration": 1 if args.smoke_test else 20},
            callbacks=[SmartCheckpointCallback()],
            checkpoint_config=tune.CheckpointConfig(checkpoint_frequency=0, checkpoint_at_end=True),
        ),
        tune_config=tune.TuneConfig(metric="mean_loss", mode="min", num_samples=3),
        param_space={"width": tune.randint(10, 100), "height": tune.loguniform(10, 100)},
    )
    results = tuner.fit()
    best = results.get_best_result()
    print(f"Best hyperparameters: {best.config}")
    print(f"Best checkpoint: {best.checkpoint}")
