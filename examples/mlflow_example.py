"""The experiment of Ray Tune's ``mlflow_example.py``, written for tunesmith: log trials to
MLflow with ``MLflowLoggerCallback`` on the driver, then with ``setup_mlflow`` inside the
trainable.

Run: python examples/mlflow_example.py --smoke-test
     python examples/mlflow_example.py --tracking-uri http://127.0.0.1:5000

The smoke test keeps runs in a temporary SQLite database (MLflow 3 refuses plain folders
unless MLFLOW_ALLOW_FILE_STORE=true).
"""

import argparse
import os
import tempfile
import time

import mlflow

import tunesmith as tune
from tunesmith.integration.mlflow import MLflowLoggerCallback, setup_mlflow


def evaluation_fn(step, width, height):
    return (0.1 + width * step / 100) ** (-1) + height * 0.1


def train_function(config):
    width, height = config["width"], config["height"]
    for step in range(config.get("steps", 100)):
        tune.report({"iterations": step, "mean_loss": evaluation_fn(step, width, height)})
        time.sleep(0.1)


def tune_with_callback(tracking_uri, finish_fast=False):
    tuner = tune.Tuner(
        train_function,
        tune_config=tune.TuneConfig(num_samples=5),
        run_config=tune.RunConfig(
            name="mlflow",
            callbacks=[MLflowLoggerCallback(tracking_uri=tracking_uri, experiment_name="mlflow_callback_example",
                                            save_artifact=True)],
        ),
        param_space={"width": tune.randint(10, 100), "height": tune.randint(0, 100),
                     "steps": 5 if finish_fast else 100},
    )
    return tuner.fit()


def train_function_mlflow(config):
    tracking_uri = config.pop("tracking_uri", None)
    mlflow_module = setup_mlflow(config, experiment_name="setup_mlflow_example", tracking_uri=tracking_uri)
    width, height = config["width"], config["height"]
    for step in range(config.get("steps", 100)):
        score = evaluation_fn(step, width, height)
        mlflow_module.log_metrics({"mean_loss": score}, step=step)
        tune.report({"iterations": step, "mean_loss": score})
        time.sleep(0.1)


def tune_with_setup(tracking_uri, finish_fast=False):
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment(experiment_name="setup_mlflow_example")  # create it once, before the trials
    tuner = tune.Tuner(
        train_function_mlflow,
        tune_config=tune.TuneConfig(num_samples=5),
        run_config=tune.RunConfig(name="mlflow"),
        param_space={"width": tune.randint(10, 100), "height": tune.randint(0, 100),
                     "steps": 5 if finish_fast else 100, "tracking_uri": mlflow.get_tracking_uri()},
    )
    return tuner.fit()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke-test", action="store_true", help="Finish quickly for testing")
    parser.add_argument("--tracking-uri", type=str, help="The tracking URI for the MLflow tracking server.")
    args, _ = parser.parse_known_args()

    uri = args.tracking_uri
    if uri is None:
        uri = f"sqlite:///{os.path.join(tempfile.mkdtemp(), 'mlflow.db')}"

    tune_with_callback(uri, finish_fast=args.smoke_test)
    client = mlflow.tracking.MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("mlflow_callback_example")
    print("Runs logged by the callback:", len(client.search_runs([experiment.experiment_id])))

    tune_with_setup(uri, finish_fast=args.smoke_test)
    experiment = client.get_experiment_by_name("setup_mlflow_example")
    print("Runs logged with setup_mlflow:", len(client.search_runs([experiment.experiment_id])))
