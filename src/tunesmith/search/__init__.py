"""Search algorithms: what to try next."""

from tunesmith.search._search_algorithm import SearchAlgorithm, TrialSuggestion

__all__ = ["SearchAlgorithm", "TrialSuggestion"]
