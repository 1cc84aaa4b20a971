"""Test helpers shipped with tunesmith: conformance checks for plug-in authors.

``check_searcher(factory, tmp_path)`` runs every searcher check; the single checks
(``check_suggestions_in_space``, ``check_trial_lifecycle``, ``check_save_restore``,
``check_metric_mode``, ``check_bad_spaces``) can be called on their own.
"""

from tunesmith.testing._searcher_contract import (
    SearcherFactory,
    assert_in_space,
    check_bad_spaces,
    check_metric_mode,
    check_save_restore,
    check_searcher,
    check_suggestions_in_space,
    check_trial_lifecycle,
    contract_space,
    toy_loss,
)

__all__ = [
    "SearcherFactory",
    "assert_in_space",
    "check_bad_spaces",
    "check_metric_mode",
    "check_save_restore",
    "check_searcher",
    "check_suggestions_in_space",
    "check_trial_lifecycle",
    "contract_space",
    "toy_loss",
]
