"""The ``tunesmith`` subcommands (click). Reads experiments only through ``dashboard._source``."""

from __future__ import annotations

import csv
import datetime
import difflib
import io
import json
import os
from typing import Any

import click

from tunesmith import _settings
from tunesmith.cli._main import EXIT_NOT_FOUND
from tunesmith.dashboard._source import ExperimentSource, list_experiments, open_experiment
from tunesmith.dashboard._table import columns, parse_filter, select

__all__ = ["cli"]


class NotFound(click.ClickException):
    exit_code = EXIT_NOT_FOUND


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Look at tunesmith experiments: list them, print a trial table, serve the dashboard.

    STORAGE is a folder or fsspec URL holding experiment folders (default
    ~/tunesmith_results, or $TUNESMITH_STORAGE_PATH). Exit codes: 0 done, 1 unreadable,
    2 usage error, 3 no such experiment or storage.
    """


def _storage(storage: str | None) -> str:
    return storage or os.path.expanduser(_settings.default_storage_path())


def _experiment(target: str, storage: str | None) -> ExperimentSource:
    """``target`` is an experiment folder (path or URL) or a name under ``storage``."""
    candidates = [target] if ("/" in target or "://" in target) else []
    candidates.append(f"{_storage(storage).rstrip('/')}/{target}")
    for path in candidates:
        try:
            return ExperimentSource(os.path.expanduser(path) if "://" not in path else path).refresh()
        except FileNotFoundError:
            continue
    raise NotFound(_not_found_message(target, storage))


def _not_found_message(target: str, storage: str | None) -> str:
    root = _storage(storage)
    try:
        names = list_experiments(root)
    except Exception:  # an unreachable URL: say what was asked, nothing more
        names = []
    near = difflib.get_close_matches(os.path.basename(target.rstrip("/")), names, n=3, cutoff=0.4)
    hint = f" Did you mean: {', '.join(near)}?" if near else (f" Experiments there: {', '.join(names[:10])}." if names else "")
    return f"no experiment {target!r} (a folder with a journal.jsonl) in {root!r}.{hint}"


def _when(timestamp: float | None) -> str:
    return datetime.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M:%S") if timestamp else "-"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def _format(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _text_table(header: list[str], rows: list[list[Any]]) -> str:
    cells = [header] + [[_format(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def _summary(source: ExperimentSource) -> dict[str, Any]:
    best = source.best_trial()
    counts = {status.lower(): n for status, n in source.counts().items() if n}
    return {
        "name": source.name, "status": source.state().value, "trials": counts, "metric": source.metric,
        "mode": source.mode, "best": best.best if best else None, "best_trial": best.trial_id if best else None,
        "started": _when(source.started), "duration_s": source.duration(), "path": source.path,
    }


@cli.command("ls")
@click.argument("storage", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines instead of a table.")
def ls_command(storage: str | None, as_json: bool) -> None:
    """List the experiments under STORAGE: status, trials by status, best metric, start, duration."""
    root = _storage(storage)
    if "://" not in root and not os.path.isdir(root):
        raise NotFound(f"no storage folder {root!r}. Pass the folder your runs used as RunConfig(storage_path=...).")
    summaries = []
    for name in list_experiments(root):
        try:
            summaries.append(_summary(open_experiment(root, name).refresh()))
        except Exception as exc:  # one unreadable experiment does not hide the others
            click.echo(f"{name}: unreadable ({exc})", err=True)
    if as_json:
        for summary in summaries:
            click.echo(json.dumps(summary))
        return
    if not summaries:
        click.echo(f"no experiments in {root}")
        return
    header = ["name", "status", "trials", "best", "started", "duration"]
    rows = [[s["name"], s["status"], ", ".join(f"{n} {k}" for k, n in s["trials"].items()) or "0",
             f"{s['metric']}={_format(s['best'])}" if s["metric"] and s["best"] is not None else "-",
             s["started"], _duration(s["duration_s"])] for s in summaries]
    click.echo(_text_table(header, rows))


@cli.command("show")
@click.argument("experiment")
@click.option("--storage", help="Storage folder or URL EXPERIMENT is a name in (default ~/tunesmith_results).")
@click.option("--sort", "sort", metavar="COLUMN", help="Sort by a column or metric (the experiment's metric: best first).")
@click.option("--desc/--asc", "descending", default=None, help="Sort direction (default: best first for the metric).")
@click.option("--filter", "filters", multiple=True, metavar="EXPR",
              help="Keep rows matching COLUMN OP VALUE (OP: == != < <= > >= ~); repeat to AND them. "
                   "E.g. --filter 'status==ERROR' --filter 'config/lr<0.1'.")
@click.option("--limit", type=click.IntRange(min=1), help="Print at most N rows.")
@click.option("--json", "fmt", flag_value="json", help="Print JSON lines.")
@click.option("--csv", "fmt", flag_value="csv", help="Print CSV.")
def show_command(experiment: str, storage: str | None, sort: str | None, descending: bool | None,
                 filters: tuple[str, ...], limit: int | None, fmt: str | None) -> None:
    """Print the trial table of EXPERIMENT (a folder, a URL, or a name under --storage), running or finished."""
    try:
        parsed = [parse_filter(text) for text in filters]
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    source = _experiment(experiment, storage)
    total, rows = select(source, filters=parsed, sort=sort, descending=descending, limit=limit)
    header = columns(source, rows)
    if sort and rows and not any(sort in row for row in rows):
        raise click.UsageError(f"--sort: no column {sort!r}; the columns are: {', '.join(header)}")
    if fmt == "json":
        for row in rows:
            click.echo(json.dumps(row))
    elif fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=header, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        click.echo(out.getvalue(), nl=False)
    else:
        state = source.state().value
        click.echo(f"{source.name} ({state}): {total} of {len(source.trials)} trials" +
                   (f", showing {len(rows)}" if len(rows) < total else ""))
        click.echo(_text_table(header, [[row.get(c) for c in header] for row in rows]))


@cli.command("dashboard")
@click.argument("target", required=False)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (keep 127.0.0.1 unless you mean to share it).")
@click.option("--port", default=8265, show_default=True, type=click.IntRange(0, 65535), help="Port (0: any free one).")
@click.option("--cache-dir", default=None, help="Folder for the trial indexes "
              "(default ~/.cache/tunesmith/dashboard, or $TUNESMITH_DASHBOARD_CACHE).")
def dashboard_command(target: str | None, host: str, port: int, cache_dir: str | None) -> None:
    """Serve the read-only web dashboard for STORAGE (a folder of experiments) or one EXPERIMENT, and print its URL."""
    from tunesmith.dashboard._server import serve

    path = _storage(target) if target is None or "/" in target or "://" in target else f"{_storage(None)}/{target}"
    if "://" not in path and not os.path.isdir(os.path.expanduser(path)):
        raise NotFound(f"no folder {path!r}: pass a storage folder or an experiment folder")
    try:
        serve(os.path.expanduser(path) if "://" not in path else path, host=host, port=port,
              announce=lambda url: click.echo(f"tunesmith dashboard: {url}  (Ctrl-C to stop)"),
              cache_dir=os.path.expanduser(cache_dir) if cache_dir else None)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror or exc}. Pick another --port.") from None


