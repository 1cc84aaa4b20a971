"""PyTorch + Optuna: Optuna's TPE searches the SGD learning rate and momentum of a small
PyTorch network on the 8x8 digits that ship with scikit-learn, so nothing is downloaded.

Each epoch reports the validation accuracy; ``RunConfig(stop={"training_iteration": 5})``
ends every trial after 5 iterations, however long its own loop would run.

Run:   python examples/pytorch_optuna.py --smoke-test
Needs: pip install "tunesmith[optuna]" torch scikit-learn
"""

import argparse

import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

import tunesmith as tune
from tunesmith.search.optuna import OptunaSearch


def load_data():
    images, labels = load_digits(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(images / 16.0, labels, test_size=0.25, random_state=0)
    as_tensors = lambda x, y: (torch.tensor(x, dtype=torch.float32), torch.tensor(y))  # noqa: E731
    return as_tensors(x_train, y_train), as_tensors(x_test, y_test)


def train_digits(config):
    torch.set_num_threads(1)  # one CPU per trial; by default torch takes every core
    torch.manual_seed(0)
    (x_train, y_train), (x_test, y_test) = load_data()
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    optimizer = torch.optim.SGD(model.parameters(), lr=config["lr"], momentum=config["momentum"])
    loss_fn = nn.CrossEntropyLoss()
    while True:  # the run config stops the trial after 5 iterations
        model.train()
        for batch in torch.randperm(len(x_train)).split(32):
            optimizer.zero_grad()
            loss_fn(model(x_train[batch]), y_train[batch]).backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            accuracy = (model(x_test).argmax(dim=1) == y_test).float().mean().item()
        tune.report({"mean_accuracy": accuracy})


def tune_digits(smoke_test=False):
    tuner = tune.Tuner(
        train_digits,
        tune_config=tune.TuneConfig(metric="mean_accuracy", mode="max", search_alg=OptunaSearch(seed=0),
                                    num_samples=4 if smoke_test else 20),
        run_config=tune.RunConfig(name="pytorch_optuna", stop={"training_iteration": 5}),
        param_space={
            "lr": tune.loguniform(1e-3, 0.5),
            "momentum": tune.uniform(0.1, 0.9),
        },
    )
    return tuner.fit()


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke-test", action="store_true", help="Finish quickly for testing")
    args, _ = parser.parse_known_args(argv)
    results = tune_digits(smoke_test=args.smoke_test)
    print("Iterations per trial:", sorted(r.metrics["training_iteration"] for r in results))
    best = results.get_best_result()
    print(f"Best SGD config: lr={best.config['lr']:.4f}, momentum={best.config['momentum']:.3f}: "
          f"validation accuracy {best.metrics['mean_accuracy']:.4f}")


if __name__ == "__main__":
    main()
