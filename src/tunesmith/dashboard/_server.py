"""The dashboard's web server: a small read-only Starlette app on uvicorn.

Every endpoint is a GET over :mod:`tunesmith.dashboard._index` (an experiment's trials in
a sqlite index in the dashboard's cache folder); there is nothing to write with. A background thread re-reads (by offset) the experiments that a page has opened,
every half second, and a server-sent event stream tells each open page when its
experiment has news, so a new result shows within a second or two.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import socket
import threading
import time
from typing import Any, Callable

import numpy as np

from tunesmith import _settings
from tunesmith._imports import try_import
from tunesmith.dashboard._index import ExperimentIndex
from tunesmith.dashboard._lttb import lttb
from tunesmith.dashboard._source import ExperimentSource, TrialEntry, _Files, _url, list_experiments
from tunesmith.dashboard._table import columns, parse_filter, trial_row

__all__ = ["Dashboard", "DashboardServer", "serve"]

STATIC = os.path.join(os.path.dirname(__file__), "static")
MAX_POINTS = 2000  # per curve, after LTTB
MAX_SEARCH_POINTS = 2000  # trials drawn in the search views (the best always among them)
REFRESH_S = 0.5
OPEN_READS = 500
JOURNAL_STEP = 1 << 20  # bytes of journal read at a time: about 2,000 trials (small steps: a low peak of parsed records)
FIRST_STEP = 1 << 20  # bytes of journal read before the first answer: the page shows, then fills in


class Dashboard:
    """The experiments under one storage folder or URL (or a single experiment folder).

    Args:
        path: A storage folder or URL holding experiments, or one experiment folder.
        filesystem: An fsspec filesystem for a URL.
        cache_dir: Folder for the trial indexes (default: ``TUNESMITH_DASHBOARD_CACHE``).
    """

    def __init__(self, path: str, filesystem: Any = None, cache_dir: str | None = None) -> None:
        self.path, self.filesystem = path, filesystem
        self.cache_dir = _writable(cache_dir or _settings.dashboard_cache_dir())
        self.single = _has_journal(path, filesystem)
        self._sources: dict[str, ExperimentIndex] = {}
        self._lock = threading.Lock()
        self._trim_pending = False

    def names(self) -> list[str]:
        if self.single:
            return [os.path.basename(self.path.rstrip("/"))]
        return list_experiments(self.path, self.filesystem)

    def source(self, name: str) -> ExperimentIndex:
        """The experiment ``name``, opened and read on first use (KeyError if there is none)."""
        with self._lock:
            source = self._sources.get(name)
            if source is None:
                if name not in self.names():
                    raise KeyError(name)
                source = ExperimentIndex(self.path if self.single else self._experiment_path(name), self.cache_dir,
                                         self.filesystem)
                # The first MB of the journal and the first 500 trials' result files now; the
                # rest of a large experiment is read by the background refresh (and a page's
                # result files when it is shown first), so it opens quickly and fills in live.
                # A warm index (a dashboard opened this experiment before) goes on from its offsets.
                source.refresh(results=False, max_bytes=FIRST_STEP)
                source.refresh_results_step(-1, OPEN_READS)
                self._sources[name] = source
            return source

    def _experiment_path(self, name: str) -> str:
        files = _Files(self.path, self.filesystem)
        return files.join(name) if files.local else _url(self.path, name)

    def refresh(self) -> None:
        """Read what the opened experiments appended since the last call."""
        with self._lock:
            sources = list(self._sources.values())
        versions = [source.version for source in sources]
        for source in sources:
            while True:  # the journal in steps, the lock let go between them
                with self._lock:
                    source.refresh(results=False, max_bytes=JOURNAL_STEP)
                    if source.caught_up:
                        break
            after: int | None = -1
            while after is not None:  # the lock is let go between chunks: pages stay quick
                with self._lock:
                    _, after = source.refresh_results_step(after)
        if any(source.version != seen for source, seen in zip(sources, versions)):
            self._trim_pending = True
        if self._trim_pending and _trim_heap():
            self._trim_pending = False

    def close(self) -> None:
        """Close the opened indexes."""
        with self._lock:
            for source in self._sources.values():
                source.close()
            self._sources.clear()

    @property
    def lock(self) -> threading.Lock:
        return self._lock


_TRIM_S = 5.0
_trimmed = [-math.inf]


def _trim_heap() -> bool:
    """Hand the C allocator's freed memory back to the system (glibc's ``malloc_trim``; a
    no-op elsewhere), at most every :data:`_TRIM_S` seconds.

    Reading a journal step parses thousands of records at once in the refresh thread; the
    objects are freed once they are in the index, but glibc keeps each thread's freed pages,
    so without this the server's RSS would creep with the experiment's size although what it
    holds does not. False when it is too soon to trim again."""
    if time.monotonic() - _trimmed[0] < _TRIM_S:
        return False
    _trimmed[0] = time.monotonic()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
    return True


def _writable(cache_dir: str) -> str:
    """``cache_dir``, created if needed; ValueError if the dashboard cannot write its indexes there."""
    try:
        os.makedirs(cache_dir, exist_ok=True)
        if not os.access(cache_dir, os.W_OK | os.X_OK):
            raise PermissionError("not writable")
    except OSError as exc:
        raise ValueError(
            f"the dashboard keeps its trial indexes in a cache folder it can write, and cannot write {cache_dir!r} "
            f"({exc.strerror or exc}); pass --cache-dir (or set TUNESMITH_DASHBOARD_CACHE) to a writable folder"
        ) from None
    return cache_dir


def _has_journal(path: str, filesystem: Any) -> bool:
    try:
        ExperimentSource(path, filesystem)
        return True
    except FileNotFoundError:
        return False


# -- what the endpoints answer (plain functions over an index) ------------------------------
def experiment_summary(source: ExperimentIndex) -> dict[str, Any]:
    best = source.best_trial()
    return {
        "name": source.name, "status": source.state().value if source.caught_up else "loading",
        "trials": source.count(), "counts": source.counts(), "metric": source.metric, "mode": source.mode,
        "best": best.best if best else None, "best_trial": best.trial_id if best else None,
        "started": source.started, "duration_s": source.duration(), "metrics": source.metric_names(),
        "params": source.param_names(), "version": source.version, "summarised": source.summarised(),
    }


def trial_page(source: ExperimentIndex, query: dict[str, str]) -> dict[str, Any]:
    filters = [parse_filter(text) for text in query.get("filter", "").split(";") if text.strip()]
    desc = query.get("desc")
    total, trials = source.select(filters, query.get("sort") or None, None if desc in (None, "") else desc == "1",
                                  int(query.get("offset", 0)), min(int(query.get("limit", 50)), 500))
    source.refresh_results([t for t in trials if not t.result_offset])  # shown before the background read reached it
    rows = [trial_row(source, t) for t in trials]
    return {"total": total, "all": source.count(), "columns": columns(source, rows), "rows": _clean(rows)}


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


def search_views(source: ExperimentIndex, metric: str | None) -> dict[str, Any]:
    """Best-so-far over trial completion, and per-trial (params, value) for parallel
    coordinates and scatter plots: at most :data:`MAX_SEARCH_POINTS` trials, the best kept.
    Both are streamed from the index: only the improvements and the sample are held."""
    metric = metric or source.metric
    best_so_far: list[list[Any]] = []
    points: list[dict[str, Any]] = []
    params = source.param_names()
    done = 0
    if metric:
        maximize, best, when = source.mode == "max", None, None
        for _, value, when in source.completed_values(metric):
            done += 1
            if best is None or (value > best if maximize else value < best):
                best = value
                best_so_far.append([done, value, when])
        if done:
            best_so_far.append([done, best, when])
        sample = source.sample(metric, MAX_SEARCH_POINTS, MAX_SEARCH_POINTS // 10)
        trials = source.trials_at([index for index, _ in sample])
        points = [{"trial_id": t.trial_id, "value": value,
                   "params": {k: _jsonable(v) for k, v in t.params().items() if k in params}}
                  for t, (_, value) in zip(trials, sample)]
    return {"metric": metric, "mode": source.mode, "trials": done, "best_so_far": best_so_far,
            "params": params, "points": points}


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
        cache_dir: Folder for the trial indexes (default: ``TUNESMITH_DASHBOARD_CACHE``, see
            :mod:`tunesmith._settings`).
    """

    def __init__(self, path: str, *, host: str = "127.0.0.1", port: int = 0, filesystem: Any = None,
                 cache_dir: str | None = None) -> None:
        uvicorn = try_import("uvicorn", extra="dashboard", needed_by="the dashboard")
        self.dashboard = Dashboard(path, filesystem, cache_dir)
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
        self.dashboard.close()

    def __enter__(self) -> "DashboardServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve(path: str, *, host: str = "127.0.0.1", port: int = 8265, announce: Callable[[str], None] = print,
          filesystem: Any = None, cache_dir: str | None = None) -> None:
    """Serve the dashboard until Ctrl-C (``tunesmith dashboard``)."""
    server = DashboardServer(path, host=host, port=port, filesystem=filesystem, cache_dir=cache_dir).start()
    announce(server.url)
    try:
        while server._threads[0].is_alive():
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


