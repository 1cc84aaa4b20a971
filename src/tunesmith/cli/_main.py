"""The ``tunesmith`` console script.

Exit codes (for scripts): 0 done; 1 an experiment could not be read; 2 a usage error
(an unknown option, a bad ``--filter``); 3 no such experiment or storage folder.
"""

from __future__ import annotations

import sys


__all__ = ["EXIT_NOT_FOUND", "EXIT_UNREADABLE", "main"]

EXIT_UNREADABLE = 1
EXIT_NOT_FOUND = 3


def main(argv: list[str] | None = None) -> None:
    """Run the command line (``argv`` defaults to ``sys.argv[1:]``)."""
    try:
        import click  # noqa: F401
    except ImportError:
        sys.stderr.write('the tunesmith command needs click: pip install "tunesmith[dashboard]"\n')
        raise SystemExit(EXIT_UNREADABLE) from None
    from tunesmith.cli._commands import cli

    cli.main(args=argv, prog_name="tunesmith")


