"""``ray.tune.result``: the names of the keys Tune adds to every reported result."""

DONE = "done"
SHOULD_CHECKPOINT = "should_checkpoint"
HOSTNAME = "hostname"
TRIAL_ID = "trial_id"
EXPERIMENT_TAG = "experiment_tag"
NODE_IP = "node_ip"
PID = "pid"
DEFAULT_METRIC = "_metric"
EPISODE_REWARD_MEAN = "episode_reward_mean"
MEAN_LOSS = "mean_loss"
MEAN_ACCURACY = "mean_accuracy"
EPISODES_THIS_ITER = "episodes_this_iter"
EPISODES_TOTAL = "episodes_total"
TIMESTEPS_THIS_ITER = "timesteps_this_iter"
TIMESTEPS_TOTAL = "timesteps_total"
TIME_THIS_ITER_S = "time_this_iter_s"
TIME_TOTAL_S = "time_total_s"
TIMESTAMP = "timestamp"
TRAINING_ITERATION = "training_iteration"
DEFAULT_EXPERIMENT_INFO_KEYS = ("trainable_name", EXPERIMENT_TAG, TRIAL_ID)
DEFAULT_RESULT_KEYS = (TRAINING_ITERATION, TIME_TOTAL_S, MEAN_ACCURACY, MEAN_LOSS)
DEBUG_METRICS = (TRIAL_ID, "experiment_id", "date", TIMESTAMP, PID, HOSTNAME, NODE_IP, "config")
AUTO_RESULT_KEYS = (
    TRAINING_ITERATION, TIME_TOTAL_S, EPISODES_TOTAL, TIMESTEPS_TOTAL, NODE_IP, HOSTNAME, PID, TIME_THIS_ITER_S,
    TIMESTAMP, "date", "time_since_restore", "timesteps_since_restore", "iterations_since_restore", "config",
    "checkpoint_dir_name",
)
RESULT_DUPLICATE = "__duplicate__"
TRIAL_INFO = "__trial_info__"
STDOUT_FILE = "__stdout_file__"
STDERR_FILE = "__stderr_file__"
DEFAULT_EXPERIMENT_NAME = "default"
JOB_META_FILE = "job_status.json"
EXPR_META_FILE = "trial_status.json"
CONFIG_PREFIX = "config"

__all__ = [
    "AUTO_RESULT_KEYS", "CONFIG_PREFIX", "DEBUG_METRICS", "DEFAULT_EXPERIMENT_INFO_KEYS", "DEFAULT_EXPERIMENT_NAME",
    "DEFAULT_METRIC", "DEFAULT_RESULT_KEYS", "DONE", "EPISODES_THIS_ITER", "EPISODES_TOTAL", "EPISODE_REWARD_MEAN",
    "EXPERIMENT_TAG", "EXPR_META_FILE", "HOSTNAME", "JOB_META_FILE", "MEAN_ACCURACY", "MEAN_LOSS", "NODE_IP", "PID",
    "RESULT_DUPLICATE", "SHOULD_CHECKPOINT", "STDERR_FILE", "STDOUT_FILE", "TIMESTAMP", "TIMESTEPS_THIS_ITER",
    "TIMESTEPS_TOTAL", "TIME_THIS_ITER_S", "TIME_TOTAL_S", "TRAINING_ITERATION", "TRIAL_ID", "TRIAL_INFO",
]
