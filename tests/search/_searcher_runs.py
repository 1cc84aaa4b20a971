"""Running a searcher by hand, one trial at a time, as the searcher tests do."""

from __future__ import annotations

from typing import Any, Callable


def run_searcher(searcher: Any, n: int, prefix: str = "t", *, loss: Callable[[dict[str, Any]], float]) -> list[Any]:
    """Suggest ``n`` trials (``<prefix>0``, ...), completing each config with ``{"loss": loss(config)}``.

    Returns:
        What each ``suggest`` returned (a non-dict, such as None, is not completed).
    """
    configs = []
    for i in range(n):
        config = searcher.suggest(f"{prefix}{i}")
        if isinstance(config, dict):
            searcher.on_trial_complete(f"{prefix}{i}", {"loss": loss(config)})
        configs.append(config)
    return configs
