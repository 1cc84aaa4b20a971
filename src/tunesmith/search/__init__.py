"""Search algorithms: what to try next."""

from tunesmith.search._basic_variant import BasicVariantGenerator
from tunesmith.search._concurrency_limiter import ConcurrencyLimiter
from tunesmith.search._create import SEARCH_ALG_IMPORT, create_searcher
from tunesmith.search._search_algorithm import SearchAlgorithm, TrialSuggestion
from tunesmith.search._search_generator import SearchGenerator
from tunesmith.search._searcher import (
    UNDEFINED_METRIC_MODE,
    UNDEFINED_SEARCH_SPACE,
    UNRESOLVED_SEARCH_SPACE,
    Searcher,
)
from tunesmith.search.repeater import Repeater
from tunesmith.search.variant_generator import grid_search

__all__ = [
    "BasicVariantGenerator",
    "ConcurrencyLimiter",
    "Repeater",
    "SEARCH_ALG_IMPORT",
    "SearchAlgorithm",
    "SearchGenerator",
    "Searcher",
    "TrialSuggestion",
    "UNDEFINED_METRIC_MODE",
    "UNDEFINED_SEARCH_SPACE",
    "UNRESOLVED_SEARCH_SPACE",
    "create_searcher",
    "grid_search",
]
