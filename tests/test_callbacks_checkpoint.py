import os

import tunesmith as tune


class CheckpointEveryOther(tune.Callback):
    def on_trial_result(self, iteration, trials, trial, result, **info):
        if result["training_iteration"] % 2 == 0:
            result["should_checkpoint"] = True


class Counter(tune.Trainable):
    def setup(self, config):
        self.i = 0

    def step(self):
        self.i += 1
        return {"i": self.i, "done": self.i >= 5}

    def save_checkpoint(self, checkpoint_dir):
        return {"i": self.i}

    def load_checkpoint(self, state):
        self.i = state["i"]


def test_a_callback_can_ask_a_class_trainable_for_a_checkpoint(run):
    config = tune.CheckpointConfig(checkpoint_at_end=False)
    result = run(Counter, run_config={"callbacks": [CheckpointEveryOther()], "checkpoint_config": config})[0]
    kept = sorted(d for d in os.listdir(result.path) if d.startswith("checkpoint_"))
    assert kept == ["checkpoint_000000", "checkpoint_000001"]  # after iterations 2 and 4
    assert result.checkpoint.path.endswith("checkpoint_000001")
