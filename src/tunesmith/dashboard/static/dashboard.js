// tunesmith dashboard: a read-only page over the JSON endpoints of tunesmith.dashboard._server.
"use strict";
const $ = (sel) => document.querySelector(sel);
const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"];
const state = {
  experiment: null, summary: null, sort: null, desc: null, offset: 0, limit: 50, filter: "",
  hidden: new Set(), selected: null, overlay: [], charts: {}, stream: null, columns: [],
};

async function getJSON(url) {
  const response = await fetch(url);
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}
const api = (path) => `/api/experiments/${encodeURIComponent(state.experiment)}${path}`;
const fmt = (v) => v === null || v === undefined ? "-" : typeof v === "number" ? (Number.isInteger(v) ? String(v) : v.toPrecision(5)) : String(v);

// -- experiments ---------------------------------------------------------------------------
async function loadExperiments() {
  const body = await getJSON("/api/experiments");
  $("#storage").textContent = body.storage;
  const list = $("#experiments");
  list.innerHTML = "";
  for (const name of body.experiments) {
    const item = document.createElement("li");
    item.textContent = name;
    item.dataset.name = name;
    item.onclick = () => openExperiment(name);
    list.appendChild(item);
  }
  const wanted = new URLSearchParams(location.hash.slice(1)).get("experiment");
  const first = body.experiments.includes(wanted) ? wanted : body.experiments[0];
  if (first) openExperiment(first);
}

async function openExperiment(name) {
  state.experiment = name; state.offset = 0; state.sort = null; state.desc = null; state.selected = null; state.overlay = [];
  location.hash = `experiment=${encodeURIComponent(name)}`;
  document.querySelectorAll("#experiments li").forEach((li) => li.classList.toggle("active", li.dataset.name === name));
  $("#trial-panel").hidden = true;
  await refreshAll();
  listen();
}

function listen() {
  if (state.stream) state.stream.close();
  state.stream = new EventSource(`/api/stream?experiment=${encodeURIComponent(state.experiment)}`);
  state.stream.onopen = () => $("#live").classList.add("on");
  state.stream.onerror = () => $("#live").classList.remove("on");
  let pending = null;
  state.stream.onmessage = () => { clearTimeout(pending); pending = setTimeout(refreshAll, 100); };
}

async function refreshAll() {
  state.summary = await getJSON(api(""));
  renderSummary();
  await loadTrials();
  if (state.selected) await showTrial(state.selected, false);
  if (!$("#search-view").hidden) await loadSearch();
}

function renderSummary() {
  const s = state.summary;
  const counts = Object.entries(s.counts).filter(([, n]) => n).map(([k, n]) => `<span class="badge ${k}">${n} ${k.toLowerCase()}</span>`).join(" ");
  const best = s.best === null ? "" : ` · best ${s.metric} = <b>${fmt(s.best)}</b> (${s.best_trial})`;
  $("#summary").innerHTML = `<h2 style="margin:4px 0">${s.name} <span id="status" class="badge ${s.status}">${s.status}</span></h2>
    ${s.trials} trials ${counts}${best}${s.metric ? ` · ${s.mode} ${s.metric}` : ""}`;
  for (const id of ["#curve-metric", "#search-metric"]) fillSelect($(id), s.metrics, $(id).value || s.metric);
  fillSelect($("#scatter-param"), s.params, $("#scatter-param").value);
}

function fillSelect(select, values, current) {
  if (select.dataset.values === values.join("\u0000")) return;
  select.dataset.values = values.join("\u0000");
  select.innerHTML = values.map((v) => `<option>${v}</option>`).join("");
  if (values.includes(current)) select.value = current;
}

// -- trial table ------------------------------------------------------------------------------
async function loadTrials() {
  const query = new URLSearchParams({ offset: state.offset, limit: state.limit, filter: state.filter });
  if (state.sort) query.set("sort", state.sort);
  if (state.desc !== null) query.set("desc", state.desc ? "1" : "0");
  let page;
  try { page = await getJSON(api(`/trials?${query}`)); $("#filter").style.borderColor = ""; }
  catch (err) { $("#filter").style.borderColor = "red"; $("#filter").title = err.message; return; }
  state.columns = page.columns;
  renderColumnChooser();
  const shown = page.columns.filter((c) => !state.hidden.has(c));
  $("#trials thead").innerHTML = "<tr><th title='overlay'>&#x2295;</th>" + shown.map((c) =>
    `<th data-col="${c}" class="${c === state.sort ? "sorted" + (state.desc ? "" : " asc") : ""}">${c}</th>`).join("") + "</tr>";
  $("#trials tbody").innerHTML = page.rows.map((row) =>
    `<tr data-trial="${row.trial_id}" class="${row.trial_id === state.selected ? "selected" : ""}">` +
    `<td><input type="checkbox" ${state.overlay.includes(row.trial_id) ? "checked" : ""}></td>` +
    shown.map((c) => c === "status" ? `<td class="status"><span class="${row[c]}">${row[c]}</span></td>`
      : `<td class="${typeof row[c] === "number" ? "num" : ""}">${fmt(row[c])}</td>`).join("") + "</tr>").join("");
  const last = Math.min(state.offset + state.limit, page.total);
  $("#page-info").textContent = `${page.total ? state.offset + 1 : 0}-${last} of ${page.total}` + (page.total < page.all ? ` (filtered from ${page.all})` : "");
  $("#prev").disabled = state.offset === 0;
  $("#next").disabled = last >= page.total;
}

function renderColumnChooser() {
  const list = $("#column-list");
  if (list.dataset.columns === state.columns.join("\u0000")) return;
  list.dataset.columns = state.columns.join("\u0000");
  list.innerHTML = state.columns.map((c) => `<label><input type="checkbox" data-col="${c}" ${state.hidden.has(c) ? "" : "checked"}> ${c}</label><br>`).join("");
}

$("#trials").addEventListener("click", (event) => {
  const th = event.target.closest("th[data-col]");
  if (th) {
    const col = th.dataset.col;
    if (state.sort === col) state.desc = !state.desc; else { state.sort = col; state.desc = null; }
    state.offset = 0;
    loadTrials();
    return;
  }
  const tr = event.target.closest("tr[data-trial]");
  if (!tr) return;
  const id = tr.dataset.trial;
  if (event.target.type === "checkbox") {
    state.overlay = event.target.checked ? [...state.overlay, id] : state.overlay.filter((t) => t !== id);
    if (state.selected) showTrial(state.selected, false);
    return;
  }
  document.querySelectorAll("#trials tr.selected").forEach((r) => r.classList.remove("selected"));
  tr.classList.add("selected");
  showTrial(id, true);
});
$("#column-list").addEventListener("change", (event) => {
  const col = event.target.dataset.col;
  if (event.target.checked) state.hidden.delete(col); else state.hidden.add(col);
  loadTrials();
});
let filterTimer = null;
$("#filter").addEventListener("input", () => {
  clearTimeout(filterTimer);
  filterTimer = setTimeout(() => { state.filter = $("#filter").value; state.offset = 0; loadTrials(); }, 250);
});
$("#prev").onclick = () => { state.offset = Math.max(0, state.offset - state.limit); loadTrials(); };
$("#next").onclick = () => { state.offset += state.limit; loadTrials(); };

// -- one trial: curves, decisions, error ----------------------------------------------------------
async function showTrial(id, fresh) {
  state.selected = id;
  const detail = await getJSON(api(`/trials/${encodeURIComponent(id)}`));
  $("#trial-panel").hidden = false;
  $("#trial-title").textContent = `${detail.name} (${detail.row.status})`;
  const error = $("#error");
  error.hidden = !detail.error;
  error.textContent = detail.error || "";
  $("#events").innerHTML = detail.events.map((e) => `<li class="${e.kind}">${new Date(e.time * 1000).toLocaleTimeString()} ${e.text}</li>`).join("");
  const metric = $("#curve-metric").value || state.summary.metric;
  const x = $("#curve-x").value;
  const ids = [id, ...state.overlay.filter((t) => t !== id)];
  const curves = await Promise.all(ids.map((t) => getJSON(api(`/trials/${encodeURIComponent(t)}/curve?metric=${encodeURIComponent(metric)}&x=${x}`))));
  drawCurves(curves, metric, x);
}

function drawCurves(curves, metric, x) {
  const data = uPlot.join(curves.map((c) => [c.x, c.y]));
  const series = [{ label: x }, ...curves.map((c, i) => ({ label: c.name, stroke: PALETTE[i % PALETTE.length], width: 1.5, spanGaps: true }))];
  const marks = curves[0].events.filter((e) => e.x !== null);
  const opts = {
    width: Math.max(400, $("#curve").clientWidth - 4), height: 300, series, scales: { x: { time: false } },
    axes: [{ label: x }, { label: metric }],
    hooks: { draw: [(u) => drawMarks(u, marks)] },
  };
  replaceChart("curve", opts, data);
}

function drawMarks(u, marks) {
  const ctx = u.ctx;
  ctx.save();
  ctx.font = `${11 * devicePixelRatio}px sans-serif`;
  for (const mark of marks) {
    const px = u.valToPos(mark.x, "x", true);
    ctx.strokeStyle = ctx.fillStyle = { paused: "#e65100", exploited: "#6a1b9a", failed: "#b71c1c", stopped: "#0d47a1" }[mark.kind] || "#555";
    ctx.setLineDash([4, 4]);
    ctx.beginPath(); ctx.moveTo(px, u.bbox.top); ctx.lineTo(px, u.bbox.top + u.bbox.height); ctx.stroke();
    ctx.fillText(mark.kind, px + 3, u.bbox.top + 12 * devicePixelRatio);
  }
  ctx.restore();
}

function replaceChart(id, opts, data) {
  if (state.charts[id]) state.charts[id].destroy();
  state.charts[id] = new uPlot(opts, data, $("#" + id));
}

$("#curve-metric").onchange = $("#curve-x").onchange = () => state.selected && showTrial(state.selected, false);
$("#clear-overlay").onclick = () => { state.overlay = []; loadTrials(); if (state.selected) showTrial(state.selected, false); };

// -- search views ------------------------------------------------------------------------------------
async function loadSearch() {
  const metric = $("#search-metric").value || state.summary.metric || "";
  const body = await getJSON(api(`/search?metric=${encodeURIComponent(metric)}`));
  $("#search-info").textContent = `${body.trials} trials with ${body.metric}` + (body.points.length < body.trials ? `; ${body.points.length} drawn (the best always)` : "");
  const steps = body.best_so_far;
  replaceChart("best-so-far", {
    width: Math.max(400, $("#best-so-far").clientWidth - 4), height: 220, scales: { x: { time: false } },
    axes: [{ label: "trials finished" }, { label: `best ${body.metric}` }],
    series: [{ label: "trial" }, { label: `best ${body.metric}`, stroke: "#1f77b4", width: 2, paths: uPlot.paths.stepped({ align: 1 }) }],
  }, [steps.map((s) => s[0]), steps.map((s) => s[1])]);
  drawParallel(body);
  drawScatter(body);
}

function axisOf(points, key) {
  const values = points.map((p) => key === null ? p.value : p.params[key]);
  const numeric = values.every((v) => v === null || v === undefined || typeof v === "number");
  if (numeric) {
    const finite = values.filter((v) => typeof v === "number");
    const lo = Math.min(...finite), hi = Math.max(...finite);
    return { values, at: (v) => typeof v !== "number" ? null : hi === lo ? 0.5 : (v - lo) / (hi - lo), lo, hi };
  }
  const cats = [...new Set(values.map(String))].sort();
  return { values, cats, at: (v) => cats.length < 2 ? 0.5 : cats.indexOf(String(v)) / (cats.length - 1) };
}

function drawParallel(body) {
  const canvas = $("#parallel");
  canvas.width = Math.max(400, canvas.parentElement.clientWidth - 4);
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const keys = [...body.params, null];
  if (!body.points.length) return;
  const axes = keys.map((k) => axisOf(body.points, k));
  const left = 70, right = canvas.width - 70, top = 30, bottom = canvas.height - 20;
  const xAt = (i) => keys.length === 1 ? left : left + (i * (right - left)) / (keys.length - 1);
  const yAt = (f) => bottom - f * (bottom - top);
  const metricAxis = axes[axes.length - 1];
  const goodness = (p) => { const f = metricAxis.at(p.value); return body.mode === "max" ? f : 1 - f; };
  const order = body.points.map((p, i) => i).sort((a, b) => goodness(body.points[a]) - goodness(body.points[b]));
  ctx.globalAlpha = body.points.length > 500 ? 0.25 : 0.6;
  for (const i of order) {
    const g = goodness(body.points[i]);
    ctx.strokeStyle = `hsl(${260 - 200 * g}, 75%, ${35 + 20 * g}%)`;
    ctx.beginPath();
    axes.forEach((axis, a) => { const f = axis.at(axis.values[i]); if (f !== null) (a ? ctx.lineTo : ctx.moveTo).call(ctx, xAt(a), yAt(f)); });
    ctx.stroke();
  }
  ctx.globalAlpha = 1; ctx.fillStyle = "#222"; ctx.strokeStyle = "#222"; ctx.font = "11px sans-serif"; ctx.textAlign = "center";
  axes.forEach((axis, a) => {
    ctx.beginPath(); ctx.moveTo(xAt(a), top); ctx.lineTo(xAt(a), bottom); ctx.stroke();
    ctx.fillText(keys[a] === null ? body.metric : keys[a], xAt(a), top - 14);
    const hi = axis.cats ? axis.cats[axis.cats.length - 1] : fmt(axis.hi), lo = axis.cats ? axis.cats[0] : fmt(axis.lo);
    ctx.fillText(hi, xAt(a), top - 2); ctx.fillText(lo, xAt(a), bottom + 12);
  });
}

function drawScatter(body) {
  const param = $("#scatter-param").value || body.params[0];
  if (!param) return;
  const axis = axisOf(body.points, param);
  const pairs = body.points.map((p) => [axis.cats ? axis.cats.indexOf(String(p.params[param])) : p.params[param], p.value])
    .filter(([x, y]) => typeof x === "number" && typeof y === "number").sort((a, b) => a[0] - b[0]);
  replaceChart("scatter", {
    width: Math.max(400, $("#scatter").clientWidth - 4), height: 260, scales: { x: { time: false } },
    axes: [{ label: param, values: axis.cats ? (u, ticks) => ticks.map((t) => axis.cats[t] ?? "") : undefined }, { label: body.metric }],
    series: [{ label: param }, { label: body.metric, stroke: "#d62728", paths: () => null, points: { show: true, size: 5, fill: "#d6272880" } }],
  }, [pairs.map((p) => p[0]), pairs.map((p) => p[1])]);
}
$("#search-metric").onchange = $("#scatter-param").onchange = loadSearch;

document.querySelectorAll(".tabs button").forEach((button) => button.onclick = () => {
  document.querySelectorAll(".tabs button").forEach((b) => b.classList.toggle("active", b === button));
  document.querySelectorAll(".view").forEach((v) => v.hidden = v.id !== button.dataset.tab);
  if (button.dataset.tab === "search-view") loadSearch();
});

loadExperiments();
