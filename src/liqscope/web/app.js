/* liqscope web UI: plain JS over the JSON API; the URL query string holds the whole state.
   Every view request carries a generation: a response older than the newest request is
   dropped before it touches the page. */
"use strict";

const SCALES = {
  // dark -> yellow, perceptual (viridis-like), as on common commercial heatmaps
  glass: [[0, "#0c0520"], [0.12, "#2d0f5e"], [0.3, "#26508a"], [0.5, "#1f8f8a"], [0.72, "#55c667"], [0.88, "#b8de29"], [1, "#fde725"]],
  // green -> yellow -> orange -> red, red densest
  heat: [[0, "#06120b"], [0.08, "#0f3d22"], [0.3, "#1f9d55"], [0.55, "#facc15"], [0.78, "#f97316"], [1, "#dc2626"]],
  mono: [[0, "#0b0e14"], [1, "#e5e7eb"]],
};
const VENUE_SHADES = { binance: 1.0, bybit: 0.78, okx: 0.6, hyperliquid: 0.45 };
const PLOT_BG = PALETTE.background;
const AXIS = { gridcolor: "#1c2331", zerolinecolor: "#2a3346", color: "#8a94aa", linecolor: "#232b3b" };
const SPIKE = { showspikes: true, spikemode: "across", spikesnap: "cursor", spikecolor: "#9aa4b8", spikethickness: 1, spikedash: "dot" };
const CONFIG = { responsive: true, scrollZoom: true, displaylogo: false, modeBarButtonsToRemove: ["lasso2d", "select2d"] };
const CANDLE_PX = 7; // target width of one candle on screen
const READOUT_HINT = "Hover the heatmap for time, price, USD and the split by side and leverage.";

const state = {
  view: "heatmap", symbol: "", venues: "all", range: "24h", start: "", end: "", mark: "",
  tiers: "all", sides: "both", preset: "all", units: "usd", scale: "glass", interval: "1h", min_usd: 0,
};
let catalogue = null;
let coverage = []; // /api/status markets: which venue has data when
let lastHeatmap = null;
let ws = null;
const seenFeed = new Set();

const unitMs = { m: 60e3, h: 3600e3, d: 86400e3, w: 604800e3, y: 365 * 86400e3 };
const intervalMs = (name) => Number(name.slice(0, -1)) * unitMs[name.slice(-1)];
const marketVenues = () => {
  const m = catalogue.markets.find((x) => x.symbol === state.symbol);
  return m ? m.venues.map((v) => v.venue) : [];
};
const selectedVenues = () => (state.venues === "all" ? marketVenues() : state.venues.split(","));

// ---------------------------------------------------------------- URL state
function readUrl() {
  const q = new URLSearchParams(location.search);
  for (const k of Object.keys(state)) if (q.has(k)) state[k] = q.get(k);
  state.min_usd = Math.max(0, Number(state.min_usd) || 0);
  if (state.range === "custom" && !(Number(state.start) < Number(state.end))) state.range = "24h";
}
function writeUrl() {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(state)) if (v !== "" || !["start", "end", "mark"].includes(k)) q.set(k, String(v));
  history.replaceState(null, "", "?" + q.toString());
}
const isCustom = () => state.range === "custom";
/** The window of the current state: a named range, or start/end (an alert's moment). */
function windowParams() { return isCustom() ? { start: state.start, end: state.end } : { range: state.range }; }
function apiParams(extra) {
  const q = new URLSearchParams({ symbol: state.symbol, venues: state.venues, preset: state.preset });
  for (const [k, v] of Object.entries(extra || {})) q.set(k, String(v));
  return q;
}

// ---------------------------------------------------------------- generations
let generation = 0;
let dropped = 0;
const STALE = new Error("stale response");
/** Throws STALE when a newer request was made since ``gen``: the caller draws nothing. */
function fresh(gen) {
  if (gen !== generation) {
    dropped += 1;
    document.body.dataset.dropped = String(dropped);
    throw STALE;
  }
}

// ---------------------------------------------------------------- controls
function chip(label, on, onClick, title) {
  const el = document.createElement("span");
  el.className = "chip" + (on ? " on" : "");
  el.textContent = label;
  if (title) el.title = title;
  el.addEventListener("click", onClick);
  return el;
}
function listOf(value, all) { return value === "all" ? all.slice() : value.split(",").filter((x) => all.includes(x)); }

function renderControls() {
  const venueNames = marketVenues();
  const vbox = $("venues");
  vbox.replaceChildren();
  vbox.appendChild(chip("aggregate", state.venues === "all", () => { state.venues = "all"; changed(); }, "sum of every venue in USD on one price grid"));
  for (const v of venueNames) {
    const on = state.venues !== "all" && state.venues.split(",").includes(v);
    vbox.appendChild(chip(v, on, () => {
      let cur = state.venues === "all" ? [] : state.venues.split(",");
      cur = cur.includes(v) ? cur.filter((x) => x !== v) : cur.concat([v]);
      state.venues = cur.length ? venueNames.filter((x) => cur.includes(x)).join(",") : "all";
      changed();
    }));
  }
  const rbox = $("ranges");
  rbox.replaceChildren();
  for (const r of catalogue.ranges) {
    rbox.appendChild(chip(r, state.range === r, () => { state.range = r; state.start = state.end = state.mark = ""; changed(); }));
  }
  if (isCustom()) {
    const c = chip(`${fmtTime(+state.start)} → ${fmtTime(+state.end)}`, true, () => {}, "the window around an alert; pick a range to leave it");
    c.classList.add("custom");
    rbox.appendChild(c);
  }
  const tbox = $("tiers");
  tbox.replaceChildren();
  const tiers = catalogue.tiers;
  const selected = listOf(state.tiers, tiers);
  for (const t of tiers) {
    const on = selected.includes(t);
    const el = chip(t, on, () => {
      let cur = listOf(state.tiers, tiers);
      cur = cur.includes(t) ? cur.filter((x) => x !== t) : cur.concat([t]);
      if (!cur.length) return; // keep at least one tier
      state.tiers = cur.length === tiers.length ? "all" : tiers.filter((x) => cur.includes(x)).join(",");
      changed();
    }, "leverage tier " + t);
    el.dataset.tier = t;
    el.style.setProperty("--tier", tierColor(t)); // the tier's fixed colour on the map
    tbox.appendChild(el);
  }
  for (const id of ["sides", "units", "scale", "interval", "preset", "symbol"]) $(id).value = state[id];
  $("min-usd").value = state.min_usd;
  document.body.className = "v-" + state.view;
  document.querySelectorAll("[data-views]").forEach((el) => { el.hidden = !el.dataset.views.split(" ").includes(state.view); });
  document.querySelectorAll(".tab[data-view]").forEach((b) => b.classList.toggle("active", b.dataset.view === state.view));
  document.querySelectorAll(".view").forEach((v) => v.classList.toggle("active", v.id === "view-" + state.view));
}

function fillSelects() {
  $("symbol").replaceChildren(...catalogue.markets.map((m) => new Option(m.symbol, m.symbol)));
  $("preset").replaceChildren(...catalogue.presets.map((p) => new Option(p, p)));
  $("interval").replaceChildren(...catalogue.intervals.map((i) => new Option(i, i)));
  if (!catalogue.markets.some((m) => m.symbol === state.symbol)) state.symbol = catalogue.markets.length ? catalogue.markets[0].symbol : "";
  if (!catalogue.presets.includes(state.preset)) state.preset = catalogue.presets[0];
  if (!catalogue.intervals.includes(state.interval)) state.interval = "1h";
  if (!isCustom() && !catalogue.ranges.includes(state.range)) state.range = "24h";
}

function resetReadout() {
  lastHeatmap = null; // a hover now has nothing to read until the new answer is drawn
  $("readout").textContent = READOUT_HINT;
}

let timer = null;
let feedKeyNow = "";
function changed(immediate) {
  writeUrl();
  renderControls();
  resetReadout();
  const fk = [state.symbol, state.venues, state.min_usd].join("|");
  if (fk !== feedKeyNow) { loadFeed().catch(() => {}); resubscribe(); }
  clearTimeout(timer);
  timer = setTimeout(refresh, immediate ? 0 : 60);
}

function bindStatic() {
  for (const id of ["sides", "units", "scale", "interval", "preset", "symbol"]) {
    $(id).addEventListener("change", (e) => {
      state[id] = e.target.value;
      if (id === "symbol") state.venues = "all";
      changed();
    });
  }
  $("min-usd").addEventListener("change", (e) => {
    state.min_usd = Math.max(0, Number(e.target.value) || 0);
    changed();
  });
  document.querySelectorAll(".tab[data-view]").forEach((b) => b.addEventListener("click", () => { state.view = b.dataset.view; changed(true); }));
}

// ---------------------------------------------------------------- provenance and notes
function renderProvenance(prov, extra) {
  const box = $("provenance");
  box.replaceChildren();
  if (!prov) return;
  for (const v of prov.venues) {
    const b = document.createElement("span");
    b.className = "badge " + (v.lower_bound ? "sampled" : "complete");
    b.textContent = v.venue + (v.lower_bound ? ": lower bound — sampled feed" : ": complete feed");
    b.title = "native symbol " + v.native_symbol;
    box.appendChild(b);
    if (v.gaps && v.gaps.length) {
      const g = document.createElement("span");
      g.className = "badge warn";
      g.textContent = v.venue + ": " + v.gaps.length + " gap" + (v.gaps.length > 1 ? "s" : "") + " (last " + fmtTime(v.gaps[v.gaps.length - 1][0]) + ")";
      box.appendChild(g);
    }
  }
  const t = dataTime(prov);
  const info = document.createElement("span");
  info.className = "badge";
  info.textContent = "data to " + (t ? fmtTime(t) : "–") + (extra ? " · " + extra : "");
  box.appendChild(info);
}
/** The note bar above the chart (never drawn over the plot). */
function setNote(text) {
  $("note").textContent = text || "";
  $("note").hidden = !text;
}
/** Venues of the market with stored candles overlapping [t0, t1) (from /api/status). */
function venuesWithData(t0, t1) {
  return coverage.filter((c) => c.symbol === state.symbol && c.first_ts !== null && c.first_ts < t1 && c.last_ts >= t0).map((c) => c.venue);
}
/** Venues the model left out of a heatmap, and those it shows. */
const skippedOf = (d) => (d.provenance && d.provenance.skipped_venues) || [];
const usedVenues = (d) => d.venues.filter((v) => !skippedOf(d).includes(v));
/** "stored data starts at …" with the first stored candle (the server names its column). */
/** First stored data time of a response's market and venues (from /api/status), or null. */
function firstStored(d) {
  const firsts = coverage.filter((c) => c.symbol === d.symbol && d.venues.includes(c.venue) && c.first_ts !== null).map((c) => c.first_ts);
  return firsts.length ? Math.min(...firsts) : null;
}
function dataStartNote(d, what = "the heatmap covers the part of the window with data") {
  const first = firstStored(d);
  return first !== null ? `stored data starts at ${fmtTime(first)}: ${what}` : null;
}
/** The heatmap's note, with skipped venues said the way they are: no data in this window,
    or data the model cannot use (e.g. candles without open interest). */
function heatmapNote(d) {
  const skipped = skippedOf(d);
  const parts = (d.note || "").split("; ").filter((p) => p && !skipped.some((v) => p.includes(v)))
    .map((p) => (p.startsWith("stored data starts at") ? dataStartNote(d) || p : p));
  if (skipped.length) {
    const has = new Set(venuesWithData(d.start, d.end));
    const none = skipped.filter((v) => !has.has(v));
    if (none.length) parts.push(`no data in this window for ${none.join(", ")}`);
    for (const v of skipped.filter((x) => has.has(x))) {
      const cov = coverage.find((c) => c.symbol === d.symbol && c.venue === v) || {};
      parts.push(`${v} left out of the model: ` + (cov.oi_points === 0 ? "candles stored but no open interest" : "too little candle and open-interest data in this window"));
    }
    const used = usedVenues(d);
    if (used.length) parts.push(`the heatmap shows ${used.join(", ")}`);
  }
  return parts.join(" · ");
}

// ---------------------------------------------------------------- heatmap
function plotSize(id) {
  const el = $(id);
  return { w: Math.max(200, Math.round(el.clientWidth || 1000)), h: Math.max(150, Math.round(el.clientHeight || 500)) };
}
function quantile(values, q) {
  if (!values.length) return 0;
  const s = Float64Array.from(values).sort();
  return s[Math.min(s.length - 1, Math.floor(q * (s.length - 1)))];
}

// format=bin: z is float16 (relative to scale) bit patterns, delta-coded along each row, zlib,
// base64; z_long is the long share of each cell in 1/255 (see docs/api.md)
const F16 = (() => {
  const t = new Float32Array(65536);
  for (let b = 0; b < 65536; b++) {
    const sign = b & 0x8000 ? -1 : 1, e = (b >> 10) & 31, m = b & 1023;
    t[b] = e === 0 ? sign * m * 2 ** -24 : e === 31 ? (m ? NaN : sign * Infinity) : sign * (1 + m / 1024) * 2 ** (e - 15);
  }
  return t;
})();
async function inflate(b64) {
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}
async function decodeHeatmap(d) {
  if (d.format !== "bin" || !d.z_encoding) return d;
  const [rows, cols] = d.z_encoding.shape, scale = d.z_encoding.scale;
  const raw = await inflate(d.z);
  const bits = new Uint16Array(raw.buffer, raw.byteOffset, rows * cols);
  const share = d.z_long ? await inflate(d.z_long) : null;
  const z = new Array(rows), zl = share ? new Array(rows) : null;
  for (let r = 0; r < rows; r++) {
    const row = new Array(cols), lrow = share ? new Array(cols) : null;
    let acc = 0;
    for (let c = 0, i = r * cols; c < cols; c++, i++) {
      acc = (acc + bits[i]) & 0xffff;
      row[c] = F16[acc] * scale;
      if (lrow) lrow[c] = row[c] * share[i] / 255;
    }
    z[r] = row;
    if (zl) zl[r] = lrow;
  }
  d.z = z;
  d.z_long = zl;
  return d;
}

/** Candles readable at any range: the interval giving about one candle per CANDLE_PX pixels. */
function candleInterval(spanMs, widthPx) {
  const want = spanMs / Math.max(20, widthPx / CANDLE_PX);
  const names = catalogue.intervals.slice().sort((a, b) => intervalMs(a) - intervalMs(b));
  return names.find((n) => intervalMs(n) >= want) || names[names.length - 1];
}

async function loadHeatmap(gen) {
  const { w, h } = plotSize("heatmap");
  const params = apiParams(Object.assign(windowParams(), { tiers: state.tiers, sides: state.sides, units: state.units, width: Math.min(4000, w), height: Math.min(2000, Math.round(h / 1.5)), format: "bin" }));
  const body = await getJson("/api/heatmap", params);
  fresh(gen);
  const d = await decodeHeatmap(body);
  fresh(gen);
  let candles = null;
  if (d.ts.length) {
    const venue = usedVenues(d)[0] || d.venues[0];
    const [x0, x1] = xRangeOf(d);
    const interval = candleInterval(x1 - x0, w); // over the part with data
    candles = await getJson("/api/series/price", new URLSearchParams({ symbol: d.symbol, venue, start: d.start, end: d.end, interval }));
    fresh(gen);
    candles.venue = venue;
    candles.interval = interval;
  }
  await drawHeatmap(d, candles, gen);
}

function xRangeOf(d) {
  // from the first column with data to the newest data (never into the future)
  const t0 = d.ts.length ? Math.max(d.start, d.ts[0]) : d.start;
  const t1 = Math.min(d.end, dataTime(d.provenance) || d.end, Date.now());
  return [t0, Math.max(t1, t0 + 60e3)];
}

async function drawHeatmap(d, c, gen) {
  renderProvenance(d.provenance, "model v" + (d.model_version || "–") + " · preset " + d.preset);
  setNote(heatmapNote(d));
  const nz = [];
  for (const row of d.z) for (const v of row) if (v > 0) nz.push(v);
  const zmax = Math.max(quantile(nz, 0.97), 1e-12); // clip the few densest cells so the rest shows
  const x = d.ts.map((t) => new Date(t + d.column_ms / 2));
  const usd = d.units === "usd";
  const traces = [{
    type: "heatmap", name: "estimated levels", x, y: d.bucket_edges, z: d.z,
    zmin: 0, zmax, colorscale: SCALES[state.scale] || SCALES.glass, zsmooth: false,
    hoverinfo: "none",
    colorbar: {
      title: { text: usd ? "USD" : "relative", side: "right", font: { color: "#8a94aa" } },
      tickfont: { color: "#8a94aa" }, outlinewidth: 0, thickness: 12, y: 0.58, len: 0.84,
      ...(usd ? usdTicks([zmax], false, 5) : { tickformat: ".2f" }),
    },
  }];
  let yr;
  if (c && c.ts.length) {
    const half = intervalMs(c.interval) / 2;
    const cx = c.ts.map((t) => new Date(t + half));
    traces.push({
      type: "candlestick", name: "price", x: cx, open: c.open, high: c.high, low: c.low, close: c.close,
      increasing: { line: { color: "#e5e7eb", width: 1 }, fillcolor: "#e5e7eb" },
      decreasing: { line: { color: "#9aa4b8", width: 1 }, fillcolor: "#11151e" },
      whiskerwidth: 0.3, hoverinfo: "none", showlegend: false,
    });
    traces.push({
      type: "bar", name: "volume", x: cx, y: c.volume, yaxis: "y2", hovertemplate: `volume %{y:,.4~s}<extra>${c.venue}</extra>`,
      marker: { color: c.close.map((v, i) => (v >= c.open[i] ? "#6b7280" : "#374151")) }, showlegend: false,
    });
    // open on the traded range with room for the nearer levels; zoom out to see the whole grid
    yr = [Math.min(...c.low) * 0.9, Math.max(...c.high) * 1.1];
  }
  const [t0, t1] = xRangeOf(d);
  const fired = Alerts.items.filter((a) => a.symbol === d.symbol && a.ts >= t0 && a.ts <= t1);
  if (fired.length) {
    // when alerts fired, along the top of the map (hover for the message)
    traces.push({
      type: "scatter", mode: "markers", name: "alerts", x: fired.map((a) => new Date(a.ts)), y: fired.map(() => 0.975), yaxis: "y3",
      marker: { symbol: "triangle-down", size: 10, color: fired.map((a) => PALETTE.severity[a.severity] || PALETTE.price), line: { width: 1, color: "#0b0e14" } },
      text: fired.map((a) => `${fmtTime(a.ts)} ${a.venue} ${a.rule}<br>${esc(a.message)}`), hovertemplate: "%{text}<extra></extra>",
    });
  }
  const shapes = [], annotations = [];
  const mark = Number(state.mark);
  if (mark && isCustom()) {
    shapes.push({ type: "line", x0: new Date(mark), x1: new Date(mark), yref: "paper", y0: 0, y1: 1, line: { color: PALETTE.price, width: 1.5, dash: "dash" } });
    annotations.push({ x: new Date(mark), yref: "paper", y: 1.0, yanchor: "bottom", text: "alert", showarrow: false, font: { color: PALETTE.price, size: 11 } });
  }
  const used = usedVenues(d);
  const who = used.length > 1 ? "aggregate of " + used.join(", ") : used.join(", ");
  const sides = state.sides === "both" ? "" : state.sides === "long" ? " · longs only" : " · shorts only";
  const layout = {
    paper_bgcolor: PLOT_BG, plot_bgcolor: PLOT_BG, margin: { l: 70, r: 10, t: 30, b: 36 },
    font: { color: "#c9d1e0", family: "Inter, system-ui, sans-serif", size: 11 },
    title: { text: `${d.symbol} · ${who} · estimated liquidation levels (${usd ? "USD per bucket" : "relative"})${sides}` + (c ? ` · candles ${c.interval} (${c.venue})` : ""), font: { size: 13 }, x: 0.01 },
    xaxis: Object.assign({ type: "date", range: xRangeOf(d).map((t) => new Date(t)), anchor: "y2", rangeslider: { visible: false } }, SPIKE, AXIS),
    yaxis: Object.assign({ title: { text: "price" }, side: "left", range: yr, domain: [0.17, 1], tickformat: ",.0f" }, SPIKE, AXIS),
    yaxis3: { domain: [0.17, 1], range: [0, 1], overlaying: "y", visible: false, fixedrange: true },
    yaxis2: Object.assign({ domain: [0, 0.14], tickformat: "~s", title: { text: "volume" }, nticks: 3, showgrid: false, fixedrange: true }, AXIS),
    dragmode: "zoom", hovermode: "closest", showlegend: false, bargap: 0.15, shapes, annotations,
    uirevision: [d.symbol, d.venues.join(), d.range, state.start, state.end].join("|"),
  };
  await Plotly.react("heatmap", traces, layout, CONFIG);
  fresh(gen);
  lastHeatmap = d;
  bindHover();
}

let hoverBound = false;
let cellTimer = null;
function bindHover() {
  if (hoverBound) return;
  hoverBound = true;
  $("heatmap").on("plotly_hover", (ev) => {
    const p = ev.points && ev.points.find((pt) => pt.data.type === "heatmap");
    const d = lastHeatmap;
    if (!p || !d) return;
    const gen = generation;
    const col = p.pointIndex[1], row = p.pointIndex[0];
    const total = d.z[row][col];
    const long = d.z_long ? d.z_long[row][col] : null;
    const lo = d.bucket_edges[row], hi = d.bucket_edges[row + 1];
    const usd = d.units === "usd";
    const val = (v) => (usd ? fmtUsd(v) : (v === null ? "–" : (+v).toFixed(3)));
    let html = `<b>${fmtTime(d.ts[col])}</b> · price <b>${fmtPx(lo)} – ${fmtPx(hi)}</b> · total <b>${val(total)}</b>`;
    if (long !== null) html += ` · <span class="l">long ${val(long)}</span> · <span class="s">short ${val(total - long)}</span>`;
    $("readout").innerHTML = html + ' · <span id="tiersplit">…</span>';
    clearTimeout(cellTimer);
    cellTimer = setTimeout(async () => {
      try {
        const q = apiParams(Object.assign({ start: d.start, end: d.end, tiers: d.tiers.join(","), ts: d.ts[col], column_ms: d.column_ms, price_lo: lo, price_hi: hi, width: Math.min(4000, plotSize("heatmap").w) }));
        const cell = await getJson("/api/heatmap/cell", q);
        const el = $("tiersplit");
        if (el && gen === generation && lastHeatmap === d) el.textContent = cell.tiers.map((t) => `${t.tier} ${fmtUsd(t.long + t.short)}`).join(" · ");
      } catch (e) { /* a hover that raced a reload: nothing to show */ }
    }, 120);
  });
}

// ---------------------------------------------------------------- map
/** The named range that covers a custom window (the map runs its model over a range). */
function coveringRange(spanMs) {
  return catalogue.ranges.find((r) => intervalMs(r) >= spanMs) || catalogue.ranges[catalogue.ranges.length - 1];
}
async function loadMap(gen) {
  const win = isCustom() ? { range: coveringRange(+state.end - +state.start), at: state.end } : { range: state.range };
  const d = await getJson("/api/map", apiParams(Object.assign(win, { tiers: state.tiers, buckets: 160 })));
  fresh(gen);
  renderProvenance(d.provenance, "model v" + (d.model_version || "–"));
  setNote(d.note);
  const mids = [];
  for (let i = 0; i + 1 < d.bucket_edges.length; i++) mids.push((d.bucket_edges[i] + d.bucket_edges[i + 1]) / 2);
  const traces = [];
  const sides = state.sides;
  for (const t of d.tiers) {
    const color = tierColor(t);
    if (sides !== "short") traces.push({ type: "bar", name: t, x: mids, y: d.long[t], marker: { color }, legendgroup: t, hovertemplate: `${t} long %{y:$,.0f}<extra>%{x:,.1f}</extra>` });
    if (sides !== "long") traces.push({ type: "bar", name: t + " short", x: mids, y: d.short[t], marker: { color, opacity: 0.75 }, legendgroup: t, showlegend: sides === "short", hovertemplate: `${t} short %{y:$,.0f}<extra>%{x:,.1f}</extra>` });
  }
  const stacked = mids.map((_, i) => traces.reduce((sum, tr) => sum + (tr.y[i] || 0), 0));
  const below = mids.map((m) => m < d.price);
  const cumulative = [...(sides !== "short" ? d.cum_long.filter((_, i) => below[i]) : []), ...(sides !== "long" ? d.cum_short.filter((_, i) => !below[i]) : [])];
  if (sides !== "short") traces.push({ type: "scatter", mode: "lines", name: "cumulative longs", x: mids.filter((_, i) => below[i]), y: d.cum_long.filter((_, i) => below[i]), yaxis: "y2", line: { color: LONG_COLOR, width: 2 }, hovertemplate: "cum. longs %{y:$,.0f}<extra>%{x:,.1f}</extra>" });
  if (sides !== "long") traces.push({ type: "scatter", mode: "lines", name: "cumulative shorts", x: mids.filter((_, i) => !below[i]), y: d.cum_short.filter((_, i) => !below[i]), yaxis: "y2", line: { color: SHORT_COLOR, width: 2 }, hovertemplate: "cum. shorts %{y:$,.0f}<extra>%{x:,.1f}</extra>" });
  const shapes = [], annotations = [];
  if (d.price) {
    shapes.push({ type: "line", x0: d.price, x1: d.price, yref: "paper", y0: 0, y1: 1, line: { color: PALETTE.price, width: 1.5, dash: "dash" } });
    annotations.push({ x: d.price, yref: "paper", y: 1.02, text: "price " + fmtPx(d.price), showarrow: false, font: { color: PALETTE.price } });
  }
  for (const [k, mp] of Object.entries(d.max_pain)) {
    if (!mp || (k === "above" && sides === "long") || (k === "below" && sides === "short")) continue;
    shapes.push({ type: "line", x0: mp.price, x1: mp.price, yref: "paper", y0: 0, y1: 0.92, line: { color: k === "above" ? SHORT_COLOR : LONG_COLOR, width: 1, dash: "dot" } });
    annotations.push({ x: mp.price, yref: "paper", y: 0.95, text: `max pain ${k}: ${fmtPx(mp.price)} (${fmtPct(mp.distance_pct)})`, showarrow: false, font: { size: 11, color: k === "above" ? PALETTE.short_soft : PALETTE.long_soft }, bgcolor: "#0b0e14cc" });
  }
  const t = dataTime(d.provenance);
  const layout = {
    paper_bgcolor: PLOT_BG, plot_bgcolor: PLOT_BG, barmode: "stack", bargap: 0.05,
    margin: { l: 70, r: 70, t: 40, b: 40 }, font: { color: "#c9d1e0", size: 11 },
    title: { text: `${d.symbol} liquidation map · ${usedVenues(d).join(", ")} · positions opened over ${win.range} · data to ${t ? fmtTime(t) : "–"}`, font: { size: 13 }, x: 0.01 },
    xaxis: Object.assign({ title: { text: "liquidation price" }, tickformat: ",.0f" }, AXIS),
    // ticks from the estimated bars; measured.js redraws the axis when it draws other data
    yaxis: Object.assign({ title: { text: "USD per bucket" }, tickformat: "$~s" }, ($("map-source") || {}).value === "estimated" || !$("map-source") ? usdTicks(stacked, false, 5) : {}, AXIS),
    yaxis2: Object.assign({ overlaying: "y", side: "right", rangemode: "tozero", title: { text: "cumulative USD" }, showgrid: false }, usdTicks(cumulative, false, 5), AXIS),
    legend: { orientation: "h", y: -0.15, font: { size: 11 } }, shapes, annotations,
  };
  await Plotly.react("map", traces, layout, CONFIG);
  fresh(gen);
  const near = (list) => list.slice(0, 3).map((cl) => `${fmtPx(cl.price)} ${fmtUsd(cl.usd)} (${fmtPct(cl.distance_pct)})`).join(", ") || "–";
  $("map-summary").innerHTML = `price <b>${d.price ? fmtPx(d.price) : "–"}</b> · nearest clusters above: <span class="s">${near(d.clusters.above)}</span> · below: <span class="l">${near(d.clusters.below)}</span>`;
  if (typeof drawMeasured === "function") await drawMeasured(d, gen); // web/measured.js
}

// ---------------------------------------------------------------- realized
function shade(hex, f) {
  const n = parseInt(hex.slice(1), 16);
  const r = Math.round(((n >> 16) & 255) * f), g = Math.round(((n >> 8) & 255) * f), b = Math.round((n & 255) * f);
  return `rgb(${r},${g},${b})`;
}
/** Round USD ticks from ``lo`` (0 or the mirrored maximum) to the largest of ``values`` in
    about ``n`` steps, labelled by size in $K/$M/$B ($200K, not -$200K; never plotly's "G"). */
function usdTicks(values, mirrored, n = 3) {
  const maxAbs = Math.max(0, ...values.map((v) => Math.abs(v || 0)));
  if (!(maxAbs > 0)) return {};
  const raw = maxAbs / n, p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * p).find((x) => x >= raw);
  const vals = [];
  for (let k = mirrored ? -Math.ceil(maxAbs / step) : 0; k <= Math.ceil(maxAbs / step); k++) vals.push(k * step);
  return { tickmode: "array", tickvals: vals, ticktext: vals.map((v) => fmtUsd(Math.abs(v)).replace(/\.0+([KMB])$/, "$1")) };
}
/** Ticks for a chart drawing shorts as negative USD. */
const absTicks = (values) => usdTicks(values, true);
// Predicted liquidations per bar from the model (GET /api/predict with the bars' parameters:
// ts/long/short in USD per interval_ms), drawn over the realized bars when the API serves it
// (looked up once in /openapi.json so an absent route costs no failed request).
let predictServed = null;
async function loadPredicted(params) {
  if (predictServed === null) {
    predictServed = await getJson("/openapi.json").then((o) => "/api/predict" in (o.paths || {})).catch(() => false);
  }
  return predictServed ? getJson("/api/predict", params) : null;
}
async function loadRealized(gen) {
  const barParams = apiParams(Object.assign(windowParams(), { interval: state.interval, min_usd: state.min_usd }));
  const [bars, levels, predicted] = await Promise.all([
    getJson("/api/liquidations/bars", barParams),
    getJson("/api/liquidations/levels", apiParams(Object.assign(windowParams(), { buckets: 80, min_usd: state.min_usd }))),
    loadPredicted(barParams).catch(() => null),
  ]);
  fresh(gen);
  renderProvenance(bars.provenance, bars.count + " liquidations");
  // as on the heatmap: the x axis runs from the first stored data to the newest, and a window
  // reaching before the stored data says so (no bars there means no data, not no liquidations)
  const first = firstStored(bars);
  const late = first !== null && first > bars.start + bars.interval_ms;
  setNote([bars.note, late ? dataStartNote(bars, "nothing is known before it") : null].filter(Boolean).join(" · "));
  const xr = [late ? first : bars.start, Math.min(bars.end, dataTime(bars.provenance) || bars.end, Date.now())];
  const x = bars.ts.map((t) => new Date(t + intervalMs(state.interval) / 2));
  const traces = [];
  for (const [venue, vb] of Object.entries(bars.by_venue)) {
    const f = VENUE_SHADES[venue] || 0.7;
    const lb = vb.lower_bound ? " (lower bound)" : "";
    if (state.sides !== "short") traces.push({ type: "bar", name: `${venue} longs${lb}`, x, y: vb.long, marker: { color: shade(LONG_COLOR, f) }, hovertemplate: `${venue} longs %{y:$,.0f}${lb}<extra>%{x}</extra>` });
    if (state.sides !== "long") traces.push({ type: "bar", name: `${venue} shorts${lb}`, x, y: vb.short.map((v) => -v), marker: { color: shade(SHORT_COLOR, f) }, customdata: vb.short, hovertemplate: `${venue} shorts %{customdata:$,.0f}${lb}<extra>%{x}</extra>` });
  }
  // the model's USD is on its own scale (the level mass the path consumed: compare shapes
  // and ranks, not levels), so predicted lines get the right axis, zero aligned with the left
  const hasPred = Boolean(predicted && predicted.ts.length);
  const zeroAt = (vals) => { const m = Math.max(0, ...vals.map((v) => Math.abs(v || 0))) * 1.08 || 1; return [-m, m]; };
  let y2 = null;
  if (hasPred) {
    const px = predicted.ts.map((t) => new Date(t + predicted.interval_ms / 2));
    const line = (color) => ({ color, width: 1.5, dash: "dot", shape: "hvh" });
    if (state.sides !== "short") traces.push({ type: "scatter", mode: "lines", name: "predicted longs", x: px, y: predicted.long, yaxis: "y2", line: line(PALETTE.long_soft), hovertemplate: "predicted longs %{y:$,.0f}<extra>%{x}</extra>" });
    if (state.sides !== "long") traces.push({ type: "scatter", mode: "lines", name: "predicted shorts", x: px, y: predicted.short.map((v) => -v), yaxis: "y2", customdata: predicted.short, line: line(PALETTE.short_soft), hovertemplate: "predicted shorts %{customdata:$,.0f}<extra>%{x}</extra>" });
    const pv = predicted.long.concat(predicted.short);
    y2 = Object.assign({ title: { text: "predicted USD (model)" }, overlaying: "y", side: "right", showgrid: false, range: zeroAt(pv) }, absTicks(pv), AXIS);
  }
  const realizedVals = bars.long.concat(bars.short);
  const base = { paper_bgcolor: PLOT_BG, plot_bgcolor: PLOT_BG, font: { color: "#c9d1e0", size: 11 }, legend: { orientation: "h", y: -0.2, font: { size: 11 } } };
  await Plotly.react("bars", traces, Object.assign({}, base, {
    barmode: "relative", margin: { l: 70, r: hasPred ? 80 : 10, t: 34, b: 40 },
    title: { text: `${bars.symbol} realized liquidations per ${state.interval} · red = longs liquidated (up), green = shorts (down)${hasPred ? " · dotted = predicted by the model (right axis)" : ""}${bars.lower_bound ? " · lower bound: sampled feed" : ""}`, font: { size: 13 }, x: 0.01 },
    xaxis: Object.assign({ type: "date", range: xr.map((t) => new Date(t)) }, AXIS),
    yaxis: Object.assign({ title: { text: "realized USD" } }, hasPred ? { range: zeroAt(realizedVals) } : {}, absTicks(realizedVals), AXIS),
    yaxis2: y2 || undefined,
  }), CONFIG);
  fresh(gen);
  const mids = [];
  for (let i = 0; i + 1 < levels.bucket_edges.length; i++) mids.push((levels.bucket_edges[i] + levels.bucket_edges[i + 1]) / 2);
  const lv = [];
  if (state.sides !== "short") lv.push({ type: "bar", orientation: "h", name: "longs liquidated", y: mids, x: levels.long.map((v) => -v), customdata: levels.long, marker: { color: LONG_COLOR }, hovertemplate: "longs %{customdata:$,.0f} at %{y:,.1f}<extra></extra>" });
  if (state.sides !== "long") lv.push({ type: "bar", orientation: "h", name: "shorts liquidated", y: mids, x: levels.short, marker: { color: SHORT_COLOR }, hovertemplate: "shorts %{x:$,.0f} at %{y:,.1f}<extra></extra>" });
  await Plotly.react("levels", lv, Object.assign({}, base, {
    barmode: "relative", bargap: 0.1, margin: { l: 70, r: 10, t: 34, b: 40 },
    title: { text: "where realized liquidations clustered (by price level) · longs left, shorts right" + (levels.lower_bound ? " · lower bound" : ""), font: { size: 13 }, x: 0.01 },
    xaxis: Object.assign({ title: { text: "USD" } }, absTicks(levels.long.concat(levels.short)), AXIS), yaxis: Object.assign({ tickformat: ",.0f", title: { text: "price" } }, AXIS),
  }), CONFIG);
}

// ---------------------------------------------------------------- feed
function feedKey(it) { return [it.venue, it.symbol, it.ts, it.side, it.price, it.qty].join("|"); }
function addFeedRow(it, fresh_, atTop) {
  const key = feedKey(it);
  if (seenFeed.has(key)) return;
  seenFeed.add(key);
  const tr = document.createElement("tr");
  tr.className = it.side + (fresh_ ? " fresh" : "") + (it.notional_usd >= 100000 ? " big" : "");
  tr.dataset.key = key;
  tr.dataset.usd = it.notional_usd;
  tr.title = `${it.native_symbol || it.symbol} ${it.qty} @ ${it.price}${it.sampled ? " (sampled feed)" : ""}`;
  const cells = [fmtStamp(it.ts), it.venue, it.side, fmtPx(it.price), fmtUsd(it.notional_usd)];
  cells.forEach((c, i) => {
    const td = document.createElement("td");
    td.textContent = c;
    if (i === 2) td.className = "side";
    if (i >= 3) td.className = "num";
    tr.appendChild(td);
  });
  const body = $("feed");
  if (atTop) body.insertBefore(tr, body.firstChild); else body.appendChild(tr);
  while (body.children.length > 300) body.removeChild(body.lastChild);
}
let feedGen = 0;
async function loadFeed() {
  if (!state.symbol) return;
  const mine = ++feedGen;
  feedKeyNow = [state.symbol, state.venues, state.min_usd].join("|");
  const d = await getJson("/api/liquidations/feed", new URLSearchParams({ symbol: state.symbol, venues: state.venues, limit: 100, min_usd: state.min_usd }));
  if (mine !== feedGen) return; // a newer filter asked meanwhile
  $("feed").replaceChildren();
  seenFeed.clear();
  for (const it of d.items) addFeedRow(it, false, false);
  $("feed-venues").textContent = state.venues === "all" ? "all venues" : state.venues.replaceAll(",", ", ");
}
function resubscribe() {
  if (ws && ws.readyState === 1) ws.send(JSON.stringify({ type: "subscribe", symbol: state.symbol, venues: state.venues, min_usd: state.min_usd, preset: state.preset }));
}
function connectWs() {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  ws = new WebSocket(`${proto}//${location.host}/ws`);
  ws.onopen = () => { $("ws-dot").classList.add("live"); resubscribe(); };
  ws.onclose = () => { $("ws-dot").classList.remove("live"); setTimeout(connectWs, 2000); };
  ws.onerror = () => {};
  ws.onmessage = (ev) => {
    const m = JSON.parse(ev.data);
    if (m.type === "liquidation") {
      if (m.symbol === state.symbol && m.notional_usd >= state.min_usd && selectedVenues().includes(m.venue)) addFeedRow(m, true, true);
    } else if (m.type === "heatmap_column") {
      if (m.symbol === state.symbol && state.view !== "realized" && !isCustom()) scheduleRefresh();
    } else if (m.type === "alert") {
      Alerts.live(m);
      if (m.symbol === state.symbol && state.view === "heatmap") scheduleRefresh(); // its marker
    }
  };
}
let refreshTimer = null;
function scheduleRefresh() { clearTimeout(refreshTimer); refreshTimer = setTimeout(refresh, 500); }

/** An alert's moment: its market on the heatmap, the window around it, the time marked. */
function showAlert(a) {
  if (catalogue.markets.some((m) => m.symbol === a.symbol)) {
    if (a.symbol !== state.symbol) state.venues = "all";
    state.symbol = a.symbol;
  }
  const win = Alerts.windowOf(a);
  state.view = "heatmap";
  state.range = "custom";
  state.start = String(win.start);
  state.end = String(win.end);
  state.mark = String(a.ts);
  if (marketVenues().includes(a.venue)) state.venues = a.venue;
  changed(true);
}

// ---------------------------------------------------------------- main
const LOADERS = { heatmap: loadHeatmap, map: loadMap, realized: loadRealized };
async function refresh() {
  if (!state.symbol) { setNote("no markets stored yet — run a collector or an import"); return; }
  const gen = ++generation;
  $("status").textContent = "loading…";
  try {
    await LOADERS[state.view](gen);
    fresh(gen);
    document.body.dataset.painted = String(gen);
    $("status").textContent = "updated " + new Date().toISOString().slice(11, 19) + "Z";
  } catch (e) {
    if (e === STALE || gen !== generation) return; // a newer request owns the page
    setNote(String(e.message || e));
    $("status").textContent = "error";
  }
}

async function boot() {
  readUrl();
  [catalogue, coverage] = await Promise.all([
    getJson("/api/instruments"),
    getJson("/api/status").then((s) => s.markets).catch(() => []),
  ]);
  fillSelects();
  bindStatic();
  writeUrl();
  renderControls();
  window.addEventListener("resize", () => { clearTimeout(timer); timer = setTimeout(refresh, 300); });
  await Alerts.init(showAlert); // first: the heatmap marks when alerts fired
  await refresh();
  await loadFeed().catch(() => {});
  connectWs();
  document.body.dataset.ready = "1";
}
boot();
