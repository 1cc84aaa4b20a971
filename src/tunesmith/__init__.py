"""tunesmith: experiments and hyperparameter tuning, with Ray Tune's API and no Ray."""

__version__ = "0.1.0"
