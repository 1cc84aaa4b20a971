"""Search algorithms: what to try next.

Each one loads on first use, so importing the Tuner (which needs only the variant generator)
loads no other searcher.
"""

from typing import TYPE_CHECKING

from tunesmith._imports import lazy_exports

if TYPE_CHECKING:
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

_LAZY = {
    "BasicVariantGenerator": "tunesmith.search._basic_variant",
    "ConcurrencyLimiter": "tunesmith.search._concurrency_limiter",
    "Repeater": "tunesmith.search.repeater",
    "SEARCH_ALG_IMPORT": "tunesmith.search._create",
    "SearchAlgorithm": "tunesmith.search._search_algorithm",
    "SearchGenerator": "tunesmith.search._search_generator",
    "Searcher": "tunesmith.search._searcher",
    "TrialSuggestion": "tunesmith.search._search_algorithm",
    "UNDEFINED_METRIC_MODE": "tunesmith.search._searcher",
    "UNDEFINED_SEARCH_SPACE": "tunesmith.search._searcher",
    "UNRESOLVED_SEARCH_SPACE": "tunesmith.search._searcher",
    "create_searcher": "tunesmith.search._create",
    "grid_search": "tunesmith.search.variant_generator",
}

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

__getattr__, __dir__ = lazy_exports(__name__, globals(), _LAZY)
