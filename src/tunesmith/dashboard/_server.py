"""The dashboard's web server: a small read-only Starlette app on uvicorn.

Every endpoint is a GET over :mod:`tunesmith.dashboard._source`; there is nothing to write
with. A background thread re-reads (by offset) the experiments that a page has opened,
every half second, and a server-sent event stream tells each open page when its
experiment has news, so a new result shows within a second or two.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import random
import socket
import threading
import time
from typing import Any, Callable

import numpy as np

from tunesmith._imports import try_import
from tunesmith.dashboard._lttb import lttb
from tunesmith.dashboard._source import ExperimentSource, TrialEntry, list_experiments, open_experiment
from tunesmith.dashboard._table import columns, parse_filter, select, trial_row

__all__ = ["Dashboard", "DashboardServer", "serve"]

STATIC = os.path.join(os.path.dirname(__file__), "static")
MAX_POINTS = 2000  # per curve, after LTTB
MAX_SEARCH_POINTS = 2000  # trials drawn in the search views (the best always among them)
REFRESH_S = 0.5
OPEN_READS = 500
JOURNAL_STEP = 4 << 20  # bytes of journal read at a time: about 8,000 trials


class Dashboard:
    """The experiments under one storage folder or URL (or a single experiment folder)."""

    def __init__(self, path: str, filesystem: Any = None) -> None:
        self.path, self.filesystem = path, filesystem
        self.single = _has_journal(path, filesystem)
        self._sources: dict[str, ExperimentSource] = {}
        self._lock = threading.Lock()

    def names(self) -> list[str]:
        if self.single:
            return [os.path.basename(self.path.rstrip("/"))]
        return list_experiments(self.path, self.filesystem)

    def source(self, name: str) -> ExperimentSource:
        """The experiment ``name``, opened and read on first use (KeyError if there is none)."""
        with self._lock:
            source = self._sources.get(name)
            if source is None:
                if name not in self.names():
                    raise KeyError(name)
                source = (ExperimentSource(self.path, self.filesystem) if self.single
                          else open_experiment(self.path, name, self.filesystem))
                # The first 4 MB of the journal and the first 500 trials' result files now; the
                # rest of a large experiment is read by the background refresh (and a page's
                # result files when it is shown first), so it opens quickly and fills in live.
                source.refresh(results=False, max_bytes=JOURNAL_STEP)
                source.refresh_results(source.trials[:OPEN_READS])
                self._sources[name] = source
            return source

    def refresh(self) -> None:
        """Read what the opened experiments appended since the last call."""
        with self._lock:
            sources = list(self._sources.values())
        for source in sources:
            while True:  # the journal in steps, the lock let go between them
                with self._lock:
                    source.refresh(results=False, max_bytes=JOURNAL_STEP)
                    if source.caught_up:
                        trials = list(source.trials)
                        break
            for start in range(0, len(trials), 2000):  # the lock is let go between chunks: pages stay quick
                with self._lock:
                    source.refresh_results(trials[start:start + 2000])

    @property
    def lock(self) -> threading.Lock:
        return self._lock


def _has_journal(path: str, filesystem: Any) -> bool:
    try:
        ExperimentSource(path, filesystem)
        return True
    except FileNotFoundError:
        return False


# -- what the endpoints answer (plain functions over a source) -------------------------------
def experiment_summary(source: ExperimentSource) -> dict[str, Any]:
    best = source.best_trial()
    return {
        "name": source.name, "status": source.state().value if source.caught_up else "loading", "trials": len(source.trials), "counts": source.counts(),
        "metric": source.metric, "mode": source.mode, "best": best.best if best else None,
        "best_trial": best.trial_id if best else None, "started": source.started, "duration_s": source.duration(),
        "metrics": source.metric_names(), "params": _param_names(source), "version": source.version,
        "summarised": sum(1 for t in source.trials if t.result_offset or t.dirname is None),
    }


def _param_names(source: ExperimentSource, sample: int = 200) -> list[str]:
    names: dict[str, None] = {}
    for trial in source.trials[:sample]:
        names.update(dict.fromkeys(trial.params()))
    return list(names)


def trial_page(source: ExperimentSource, query: dict[str, str]) -> dict[str, Any]:
    filters = [parse_filter(text) for text in query.get("filter", "").split(";") if text.strip()]
    desc = query.get("desc")
    total, rows = select(source, filters=filters, sort=query.get("sort") or None,
                         descending=None if desc in (None, "") else desc == "1",
                         offset=int(query.get("offset", 0)), limit=min(int(query.get("limit", 50)), 500))
    unread = [t for t in (source.trial(row["trial_id"]) for row in rows) if t is not None and not t.result_offset]
    if unread and source.refresh_results(unread):  # a page shown before the background read reached it
        rows = [trial_row(source, source.trial(row["trial_id"])) for row in rows]  # type: ignore[arg-type]
    return {"total": total, "all": len(source.trials), "columns": columns(source, rows), "rows": _clean(rows)}


def trial_detail(source: ExperimentSource, trial: TrialEntry) -> dict[str, Any]:
    return {
        "row": _clean([trial_row(source, trial)])[0], "config": trial.config, "name": source.trial_name(trial),
        "events": [{"time": e.time, "kind": e.kind, "text": e.text} for e in trial.timeline()],
        "error": source.error_text(trial) if trial.status.value == "ERROR" or trial.num_failures else None,
        "metrics": sorted(trial.last_metrics),
    }


def trial_curve(source: ExperimentSource, trial: TrialEntry, metric: str, x: str) -> dict[str, Any]:
    """The metric against ``x`` (``training_iteration`` or ``time_total_s``), at most
    :data:`MAX_POINTS` points, with the trial's events placed on the same axis."""
    xs, ys, stamps = [], [], []
    for row in source.rows(trial):
        xv, yv = _num(row.get(x)), _num(row.get(metric))
        if xv is not None and yv is not None:
            xs.append(xv), ys.append(yv), stamps.append(_num(row.get("timestamp")) or 0.0)
    order = np.argsort(np.asarray(xs), kind="stable") if xs else np.arange(0)
    xa, ya, sa = np.asarray(xs)[order], np.asarray(ys)[order], np.asarray(stamps)[order]
    keep = lttb(xa, ya, MAX_POINTS) if len(xa) else np.arange(0)
    events = []
    for event in trial.timeline():
        if event.kind == "started":
            continue
        at = int(np.searchsorted(sa, event.time, side="right")) - 1 if len(sa) else -1
        events.append({"x": float(xa[at]) if at >= 0 else None, "kind": event.kind, "text": event.text})
    return {"trial_id": trial.trial_id, "name": source.trial_name(trial), "x": xa[keep].tolist(),
            "y": ya[keep].tolist(), "points": len(xa), "events": events}


def search_views(source: ExperimentSource, metric: str | None) -> dict[str, Any]:
    """Best-so-far over trial completion, and per-trial (params, value) for parallel
    coordinates and scatter plots: at most :data:`MAX_SEARCH_POINTS` trials, the best kept."""
    metric = metric or source.metric
    maximize = source.mode == "max"
    done = [t for t in source.trials if _value(t, metric, source) is not None]
    done.sort(key=lambda t: t.ended or t.started or 0.0)
    best_so_far, best = [], None
    for number, trial in enumerate(done, start=1):
        value = _value(trial, metric, source)
        if best is None or (value > best if maximize else value < best):
            best = value
            best_so_far.append([number, value, trial.ended or trial.started])
    if done:
        best_so_far.append([len(done), best, done[-1].ended or done[-1].started])
    sample = _sample(done, metric, source, maximize)
    params = _param_names(source)
    points = [{"trial_id": t.trial_id, "value": _value(t, metric, source),
               "params": {k: _jsonable(v) for k, v in t.params().items() if k in params}} for t in sample]
    return {"metric": metric, "mode": source.mode, "trials": len(done), "best_so_far": best_so_far,
            "params": params, "points": points}


def _value(trial: TrialEntry, metric: str | None, source: ExperimentSource) -> float | None:
    if metric is None:
        return None
    if metric == source.metric:
        return trial.best
    return trial.last_metrics.get(metric)


def _sample(trials: list[TrialEntry], metric: str | None, source: ExperimentSource, maximize: bool) -> list[TrialEntry]:
    if len(trials) <= MAX_SEARCH_POINTS:
        return trials
    ranked = sorted(trials, key=lambda t: _value(t, metric, source), reverse=maximize)
    top = ranked[: MAX_SEARCH_POINTS // 10]
    rest = random.Random(0).sample(ranked[len(top):], MAX_SEARCH_POINTS - len(top))
    return top + rest


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value if isinstance(value, (int, float, str, bool, type(None))) else str(value)


def _clean(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: _jsonable(v) for k, v in row.items()} for row in rows]


# -- the app ------------------------------------------------------------------------------------
def create_app(dashboard: Dashboard) -> Any:
    """The Starlette app: GET endpoints only."""
    try_import("starlette", extra="dashboard", needed_by="the dashboard")
    from starlette.applications import Starlette
    from starlette.responses import FileResponse, JSONResponse, StreamingResponse
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    def with_source(handler: Callable[..., Any]) -> Callable[..., Any]:
        async def endpoint(request: Any) -> Any:
            try:
                source = await asyncio.to_thread(dashboard.source, request.path_params["name"])
            except KeyError:
                return JSONResponse({"error": f"no experiment {request.path_params['name']!r}"}, status_code=404)
            try:
                return JSONResponse(await asyncio.to_thread(_locked, dashboard, handler, source, request))
            except (KeyError, ValueError) as exc:
                return JSONResponse({"error": str(exc.args[0] if exc.args else exc)}, status_code=400)
        return endpoint

    async def index(request: Any) -> Any:
        return FileResponse(os.path.join(STATIC, "index.html"))

    async def experiments(request: Any) -> Any:
        names = await asyncio.to_thread(dashboard.names)
        return JSONResponse({"storage": dashboard.path, "experiments": names})

    async def stream(request: Any) -> Any:
        name = request.query_params.get("experiment", "")

        async def events() -> Any:
            last = None
            while not await request.is_disconnected():
                try:
                    source = await asyncio.to_thread(dashboard.source, name)
                except KeyError:
                    return
                if source.version != last:
                    last = source.version
                    yield f"data: {json.dumps({'version': last})}\n\n"
                await asyncio.sleep(REFRESH_S / 2)

        return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    routes = [
        Route("/", index),
        Route("/api/experiments", experiments),
        Route("/api/experiments/{name}", with_source(lambda s, r: experiment_summary(s))),
        Route("/api/experiments/{name}/trials", with_source(lambda s, r: trial_page(s, dict(r.query_params)))),
        Route("/api/experiments/{name}/trials/{trial_id}", with_source(lambda s, r: trial_detail(s, _trial(s, r)))),
        Route("/api/experiments/{name}/trials/{trial_id}/curve", with_source(
            lambda s, r: trial_curve(s, _trial(s, r), r.query_params.get("metric") or s.metric or "",
                                     r.query_params.get("x", "training_iteration")))),
        Route("/api/experiments/{name}/search", with_source(lambda s, r: search_views(s, r.query_params.get("metric")))),
        Route("/api/stream", stream),
        Mount("/static", StaticFiles(directory=STATIC)),
    ]
    return Starlette(routes=routes)


def _locked(dashboard: Dashboard, handler: Callable[..., Any], source: ExperimentSource, request: Any) -> Any:
    with dashboard.lock:
        return handler(source, request)


def _trial(source: ExperimentSource, request: Any) -> TrialEntry:
    trial = source.trial(request.path_params["trial_id"])
    if trial is None:
        raise KeyError(f"no trial {request.path_params['trial_id']!r}")
    return trial


class DashboardServer:
    """The dashboard served on ``host:port`` from a background thread (tests, notebooks).

    Args:
        path: A storage folder or URL holding experiments, or one experiment folder.
        host: Address to bind; 127.0.0.1 unless you mean others to reach it.
        port: Port; 0 picks a free one (see :attr:`url`).
        filesystem: An fsspec filesystem for a URL.
    """

    def __init__(self, path: str, *, host: str = "127.0.0.1", port: int = 0, filesystem: Any = None) -> None:
        uvicorn = try_import("uvicorn", extra="dashboard", needed_by="the dashboard")
        self.dashboard = Dashboard(path, filesystem)
        self._socket = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))
        bound = self._socket.getsockname()[1]
        self.url = f"http://{host if ':' not in host else f'[{host}]'}:{bound}/"
        config = uvicorn.Config(create_app(self.dashboard), log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def _refresh_loop(self) -> None:
        while not self._stopping.wait(REFRESH_S):
            try:
                self.dashboard.refresh()
            except Exception:  # a file caught mid-rename, a network blip: next round
                continue

    def start(self) -> "DashboardServer":
        for target in (lambda: self._server.run(sockets=[self._socket]), self._refresh_loop):
            thread = threading.Thread(target=target, daemon=True, name="tunesmith-dashboard")
            thread.start()
            self._threads.append(thread)
        deadline = time.monotonic() + 10
        while not self._server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._server.should_exit = True
        for thread in self._threads:
            thread.join(timeout=5)
        self._socket.close()

    def __enter__(self) -> "DashboardServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve(path: str, *, host: str = "127.0.0.1", port: int = 8265, announce: Callable[[str], None] = print,
          filesystem: Any = None) -> None:
    """Serve the dashboard until Ctrl-C (``tunesmith dashboard``)."""
    server = DashboardServer(path, host=host, port=port, filesystem=filesystem).start()
    announce(server.url)
    try:
        while server._threads[0].is_alive():
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


