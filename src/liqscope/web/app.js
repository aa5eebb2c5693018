/* liqscope web UI: plain JS over the JSON API; the URL query string holds the whole state. */
"use strict";

const RANGES = ["12h", "24h", "3d", "7d", "30d", "90d", "180d", "1y"];
const SCALES = {
  // dark -> yellow, perceptual (viridis-like), as on common commercial heatmaps
  glass: [[0, "#0c0520"], [0.12, "#2d0f5e"], [0.3, "#26508a"], [0.5, "#1f8f8a"], [0.72, "#55c667"], [0.88, "#b8de29"], [1, "#fde725"]],
  // green -> yellow -> orange -> red, red densest
  heat: [[0, "#06120b"], [0.08, "#0f3d22"], [0.3, "#1f9d55"], [0.55, "#facc15"], [0.78, "#f97316"], [1, "#dc2626"]],
  mono: [[0, "#0b0e14"], [1, "#e5e7eb"]],
};
const TIER_COLORS = ["#3b82f6", "#8b5cf6", "#f59e0b", "#f97316", "#ef4444", "#ec4899", "#14b8a6"];
const VENUE_SHADES = { binance: 1.0, bybit: 0.78, okx: 0.6, hyperliquid: 0.45 };
const PLOT_BG = "#0b0e14";
const AXIS = { gridcolor: "#1c2331", zerolinecolor: "#2a3346", color: "#8a94aa", linecolor: "#232b3b" };
const CONFIG = { responsive: true, scrollZoom: true, displaylogo: false, modeBarButtonsToRemove: ["lasso2d", "select2d"] };

const state = {
  view: "heatmap", symbol: "", venues: "all", range: "24h", tiers: "all", sides: "both",
  preset: "all", units: "usd", scale: "glass", interval: "1h", min_usd: 0,
};
let catalogue = null;
let lastHeatmap = null;
let ws = null;
const seenFeed = new Set();

const $ = (id) => document.getElementById(id);
const fmtUsd = (v) => {
  if (v === null || v === undefined || !isFinite(v)) return "–";
  const a = Math.abs(v);
  if (a >= 1e9) return "$" + (v / 1e9).toFixed(2) + "B";
  if (a >= 1e6) return "$" + (v / 1e6).toFixed(2) + "M";
  if (a >= 1e3) return "$" + (v / 1e3).toFixed(1) + "K";
  return "$" + v.toFixed(0);
};
const fmtPx = (v) => (v >= 1000 ? v.toLocaleString("en-US", { maximumFractionDigits: 1 }) : (+v).toPrecision(6));
const fmtTime = (ms) => new Date(ms).toISOString().replace("T", " ").slice(0, 16) + "Z";
const fmtClock = (ms) => new Date(ms).toISOString().slice(11, 19);

// ---------------------------------------------------------------- URL state
function readUrl() {
  const q = new URLSearchParams(location.search);
  for (const k of Object.keys(state)) if (q.has(k)) state[k] = q.get(k);
  state.min_usd = Math.max(0, Number(state.min_usd) || 0);
}
function writeUrl() {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(state)) q.set(k, String(v));
  history.replaceState(null, "", "?" + q.toString());
}
function apiParams(extra) {
  const q = new URLSearchParams({ symbol: state.symbol, venues: state.venues, preset: state.preset });
  for (const [k, v] of Object.entries(extra || {})) q.set(k, String(v));
  return q;
}
async function getJson(path, params) {
  const r = await fetch(path + "?" + params.toString());
  const body = await r.json();
  if (!r.ok) {
    const d = body.detail;
    throw new Error(Array.isArray(d) ? d.map((x) => x.msg).join("; ") : String(d));
  }
  return body;
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
  const market = catalogue.markets.find((m) => m.symbol === state.symbol);
  const venueNames = market ? market.venues.map((v) => v.venue) : [];
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
  for (const r of RANGES) rbox.appendChild(chip(r, state.range === r, () => { state.range = r; changed(); }));
  const tbox = $("tiers");
  tbox.replaceChildren();
  const tiers = catalogue.tiers;
  const selected = listOf(state.tiers, tiers);
  tiers.forEach((t) => {
    const el = chip(t, selected.includes(t), () => {
      let cur = listOf(state.tiers, tiers);
      cur = cur.includes(t) ? cur.filter((x) => x !== t) : cur.concat([t]);
      if (!cur.length) return; // keep at least one tier
      state.tiers = cur.length === tiers.length ? "all" : tiers.filter((x) => cur.includes(x)).join(",");
      changed();
    }, "leverage tier " + t);
    el.dataset.tier = t;
    tbox.appendChild(el);
  });
  for (const id of ["sides", "units", "scale", "interval", "preset", "symbol"]) $(id).value = state[id];
  $("min-usd").value = state.min_usd;
  document.body.className = "v-" + state.view;
  document.querySelectorAll(".tab").forEach((b) => b.classList.toggle("active", b.dataset.view === state.view));
  document.querySelectorAll(".view").forEach((v) => v.classList.toggle("active", v.id === "view-" + state.view));
}

function fillSelects() {
  $("symbol").replaceChildren(...catalogue.markets.map((m) => new Option(m.symbol, m.symbol)));
  $("preset").replaceChildren(...catalogue.presets.map((p) => new Option(p, p)));
  if (!catalogue.markets.some((m) => m.symbol === state.symbol)) state.symbol = catalogue.markets.length ? catalogue.markets[0].symbol : "";
  if (!catalogue.presets.includes(state.preset)) state.preset = catalogue.presets[0];
}

let timer = null;
function changed(immediate) {
  writeUrl();
  renderControls();
  clearTimeout(timer);
  timer = setTimeout(refresh, immediate ? 0 : 60);
}

function bindStatic() {
  for (const id of ["sides", "units", "scale", "interval", "preset", "symbol"]) {
    $(id).addEventListener("change", (e) => {
      state[id] = e.target.value;
      if (id === "symbol") { state.venues = "all"; resubscribe(); }
      changed();
    });
  }
  $("min-usd").addEventListener("change", (e) => {
    state.min_usd = Math.max(0, Number(e.target.value) || 0);
    writeUrl();
    loadFeed();
    resubscribe();
  });
  document.querySelectorAll(".tab").forEach((b) => b.addEventListener("click", () => { state.view = b.dataset.view; changed(true); }));
}

// ---------------------------------------------------------------- provenance
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
  const last = Math.max(...prov.venues.map((v) => v.last_ts || 0));
  const info = document.createElement("span");
  info.className = "badge";
  info.textContent = "data to " + (last ? fmtTime(last) : "–") + (extra ? " · " + extra : "");
  box.appendChild(info);
}
function setNote(text) { $("note").textContent = text || ""; }

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

async function loadHeatmap() {
  const { w, h } = plotSize("heatmap");
  const params = apiParams({ range: state.range, tiers: state.tiers, sides: state.sides, units: state.units, width: Math.min(4000, w), height: Math.min(2000, Math.round(h / 1.5)), format: "bin" });
  const d = await decodeHeatmap(await getJson("/api/heatmap", params));
  lastHeatmap = d;
  renderProvenance(d.provenance, "model v" + (d.model_version || "–") + " · preset " + d.preset);
  setNote(d.note);
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
      tickfont: { color: "#8a94aa" }, outlinewidth: 0, thickness: 12,
      tickformat: usd ? "$~s" : ".2f",
    },
  }];
  const c = d.candles;
  if (c.ts.length) {
    traces.push({
      type: "candlestick", name: "price", x, open: c.open, high: c.high, low: c.low, close: c.close,
      increasing: { line: { color: "#e5e7eb", width: 1 }, fillcolor: "#e5e7eb" },
      decreasing: { line: { color: "#7f8aa3", width: 1 }, fillcolor: "#11151e" },
      hoverinfo: "none", showlegend: false,
    });
  }
  // open on the traded range with room for the nearer levels; zoom out to see the whole grid
  const lows = c.low.filter((v) => v !== null), highs = c.high.filter((v) => v !== null);
  const yr = lows.length ? [Math.min(...lows) * 0.9, Math.max(...highs) * 1.1] : undefined;
  const layout = {
    paper_bgcolor: PLOT_BG, plot_bgcolor: PLOT_BG, margin: { l: 70, r: 10, t: 30, b: 40 },
    font: { color: "#c9d1e0", family: "Inter, system-ui, sans-serif", size: 11 },
    title: { text: `${d.symbol} · ${d.aggregate ? "aggregate of " + d.venues.join(", ") : d.venues.join(", ")} · estimated liquidation levels (${usd ? "USD per bucket" : "relative"})`, font: { size: 13 }, x: 0.01 },
    xaxis: Object.assign({ type: "date", rangeslider: { visible: false }, showspikes: true, spikemode: "across", spikesnap: "cursor", spikecolor: "#9aa4b8", spikethickness: 1, spikedash: "dot" }, AXIS),
    yaxis: Object.assign({ title: { text: "price" }, side: "left", range: yr, showspikes: true, spikemode: "across", spikesnap: "cursor", spikecolor: "#9aa4b8", spikethickness: 1, spikedash: "dot", tickformat: ",.0f" }, AXIS),
    dragmode: "zoom", hovermode: "closest", showlegend: false,
    uirevision: [d.symbol, d.venues.join(), d.range].join("|"),
  };
  await Plotly.react("heatmap", traces, layout, CONFIG);
  bindHover();
}

let hoverBound = false;
let cellTimer = null;
function bindHover() {
  if (hoverBound) return;
  hoverBound = true;
  $("heatmap").on("plotly_hover", (ev) => {
    const p = ev.points && ev.points.find((pt) => pt.data.type === "heatmap");
    if (!p || !lastHeatmap) return;
    const d = lastHeatmap;
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
        const q = apiParams({ range: state.range, tiers: state.tiers, ts: d.ts[col], column_ms: d.column_ms, price_lo: lo, price_hi: hi, width: Math.min(4000, plotSize("heatmap").w) });
        const cell = await getJson("/api/heatmap/cell", q);
        const el = $("tiersplit");
        if (el) el.textContent = cell.tiers.map((t) => `${t.tier} ${fmtUsd(t.long + t.short)}`).join(" · ");
      } catch (e) { /* a hover that raced a reload: nothing to show */ }
    }, 120);
  });
}

// ---------------------------------------------------------------- map
async function loadMap() {
  const d = await getJson("/api/map", apiParams({ tiers: state.tiers, buckets: 160 }));
  renderProvenance(d.provenance, "model v" + (d.model_version || "–"));
  setNote(d.note);
  const mids = [];
  for (let i = 0; i + 1 < d.bucket_edges.length; i++) mids.push((d.bucket_edges[i] + d.bucket_edges[i + 1]) / 2);
  const traces = [];
  const sides = state.sides;
  d.tiers.forEach((t, i) => {
    const color = TIER_COLORS[i % TIER_COLORS.length];
    if (sides !== "short") traces.push({ type: "bar", name: t, x: mids, y: d.long[t], marker: { color }, legendgroup: t, hovertemplate: `${t} long %{y:$,.0f}<extra>%{x:,.1f}</extra>` });
    if (sides !== "long") traces.push({ type: "bar", name: t + " short", x: mids, y: d.short[t], marker: { color, opacity: 0.75 }, legendgroup: t, showlegend: sides === "short", hovertemplate: `${t} short %{y:$,.0f}<extra>%{x:,.1f}</extra>` });
  });
  const below = mids.map((m) => m < d.price);
  if (sides !== "short") traces.push({ type: "scatter", mode: "lines", name: "cumulative longs", x: mids.filter((_, i) => below[i]), y: d.cum_long.filter((_, i) => below[i]), yaxis: "y2", line: { color: "#ef4444", width: 2 }, hovertemplate: "cum. longs %{y:$,.0f}<extra>%{x:,.1f}</extra>" });
  if (sides !== "long") traces.push({ type: "scatter", mode: "lines", name: "cumulative shorts", x: mids.filter((_, i) => !below[i]), y: d.cum_short.filter((_, i) => !below[i]), yaxis: "y2", line: { color: "#22c55e", width: 2 }, hovertemplate: "cum. shorts %{y:$,.0f}<extra>%{x:,.1f}</extra>" });
  const shapes = [], annotations = [];
  if (d.price) {
    shapes.push({ type: "line", x0: d.price, x1: d.price, yref: "paper", y0: 0, y1: 1, line: { color: "#f5c542", width: 1.5, dash: "dash" } });
    annotations.push({ x: d.price, yref: "paper", y: 1.02, text: "price " + fmtPx(d.price), showarrow: false, font: { color: "#f5c542" } });
  }
  for (const [k, mp] of Object.entries(d.max_pain)) {
    if (!mp) continue;
    shapes.push({ type: "line", x0: mp.price, x1: mp.price, yref: "paper", y0: 0, y1: 0.92, line: { color: k === "above" ? "#22c55e" : "#ef4444", width: 1, dash: "dot" } });
    annotations.push({ x: mp.price, yref: "paper", y: 0.95, text: `max pain ${k}: ${fmtPx(mp.price)} (${mp.distance_pct > 0 ? "+" : ""}${mp.distance_pct.toFixed(2)}%)`, showarrow: false, font: { size: 11, color: k === "above" ? "#86efac" : "#fca5a5" }, bgcolor: "#0b0e14cc" });
  }
  const layout = {
    paper_bgcolor: PLOT_BG, plot_bgcolor: PLOT_BG, barmode: "stack", bargap: 0.05,
    margin: { l: 70, r: 70, t: 40, b: 40 }, font: { color: "#c9d1e0", size: 11 },
    title: { text: `${d.symbol} liquidation map · ${d.venues.join(", ")} · ${d.ts ? fmtTime(d.ts) : ""}`, font: { size: 13 }, x: 0.01 },
    xaxis: Object.assign({ title: { text: "liquidation price" }, tickformat: ",.0f" }, AXIS),
    yaxis: Object.assign({ title: { text: "USD per bucket" }, tickformat: "$~s" }, AXIS),
    yaxis2: Object.assign({ overlaying: "y", side: "right", tickformat: "$.3~s", rangemode: "tozero", title: { text: "cumulative USD" }, showgrid: false }, AXIS),
    legend: { orientation: "h", y: -0.15, font: { size: 11 } }, shapes, annotations,
  };
  await Plotly.react("map", traces, layout, CONFIG);
  const near = (list) => list.slice(0, 3).map((c) => `${fmtPx(c.price)} ${fmtUsd(c.usd)} (${c.distance_pct > 0 ? "+" : ""}${c.distance_pct.toFixed(2)}%)`).join(", ") || "–";
  $("map-summary").innerHTML = `price <b>${d.price ? fmtPx(d.price) : "–"}</b> · nearest clusters above: <span class="s">${near(d.clusters.above)}</span> · below: <span class="l">${near(d.clusters.below)}</span>`;
}

// ---------------------------------------------------------------- realized
function shade(hex, f) {
  const n = parseInt(hex.slice(1), 16);
  const r = Math.round(((n >> 16) & 255) * f), g = Math.round(((n >> 8) & 255) * f), b = Math.round((n & 255) * f);
  return `rgb(${r},${g},${b})`;
}
async function loadRealized() {
  const [bars, levels] = await Promise.all([
    getJson("/api/liquidations/bars", apiParams({ range: state.range, interval: state.interval, min_usd: state.min_usd })),
    getJson("/api/liquidations/levels", apiParams({ range: state.range, buckets: 80, min_usd: state.min_usd })),
  ]);
  renderProvenance(bars.provenance, bars.count + " liquidations");
  setNote(bars.note);
  const x = bars.ts.map((t) => new Date(t));
  const traces = [];
  for (const [venue, vb] of Object.entries(bars.by_venue)) {
    const f = VENUE_SHADES[venue] || 0.7;
    const lb = vb.lower_bound ? " (lower bound)" : "";
    if (state.sides !== "short") traces.push({ type: "bar", name: `${venue} longs${lb}`, x, y: vb.long, marker: { color: shade("#ef4444", f) }, hovertemplate: `${venue} longs %{y:$,.0f}${lb}<extra>%{x}</extra>` });
    if (state.sides !== "long") traces.push({ type: "bar", name: `${venue} shorts${lb}`, x, y: vb.short.map((v) => -v), marker: { color: shade("#22c55e", f) }, customdata: vb.short, hovertemplate: `${venue} shorts %{customdata:$,.0f}${lb}<extra>%{x}</extra>` });
  }
  const base = { paper_bgcolor: PLOT_BG, plot_bgcolor: PLOT_BG, font: { color: "#c9d1e0", size: 11 }, legend: { orientation: "h", y: -0.2, font: { size: 11 } } };
  await Plotly.react("bars", traces, Object.assign({}, base, {
    barmode: "relative", margin: { l: 70, r: 10, t: 34, b: 40 },
    title: { text: `${bars.symbol} realized liquidations per ${state.interval} · red = longs liquidated (up), green = shorts (down)${bars.lower_bound ? " · lower bound: sampled feed" : ""}`, font: { size: 13 }, x: 0.01 },
    xaxis: Object.assign({ type: "date" }, AXIS), yaxis: Object.assign({ tickformat: "$~s", title: { text: "USD" } }, AXIS),
  }), CONFIG);
  const mids = [];
  for (let i = 0; i + 1 < levels.bucket_edges.length; i++) mids.push((levels.bucket_edges[i] + levels.bucket_edges[i + 1]) / 2);
  await Plotly.react("levels", [
    { type: "bar", orientation: "h", name: "longs liquidated", y: mids, x: levels.long.map((v) => -v), customdata: levels.long, marker: { color: "#ef4444" }, hovertemplate: "longs %{customdata:$,.0f} at %{y:,.1f}<extra></extra>" },
    { type: "bar", orientation: "h", name: "shorts liquidated", y: mids, x: levels.short, marker: { color: "#22c55e" }, hovertemplate: "shorts %{x:$,.0f} at %{y:,.1f}<extra></extra>" },
  ], Object.assign({}, base, {
    barmode: "relative", bargap: 0.1, margin: { l: 70, r: 10, t: 34, b: 40 },
    title: { text: "where realized liquidations clustered (by price level) · longs left, shorts right" + (levels.lower_bound ? " · lower bound" : ""), font: { size: 13 }, x: 0.01 },
    xaxis: Object.assign({ tickformat: "$~s", title: { text: "USD" } }, AXIS), yaxis: Object.assign({ tickformat: ",.0f", title: { text: "price" } }, AXIS),
  }), CONFIG);
}

// ---------------------------------------------------------------- feed
function feedKey(it) { return [it.venue, it.symbol, it.ts, it.side, it.price, it.qty].join("|"); }
function addFeedRow(it, fresh, atTop) {
  const key = feedKey(it);
  if (seenFeed.has(key)) return;
  seenFeed.add(key);
  const tr = document.createElement("tr");
  tr.className = it.side + (fresh ? " fresh" : "") + (it.notional_usd >= 100000 ? " big" : "");
  tr.dataset.key = key;
  tr.dataset.usd = it.notional_usd;
  tr.title = `${it.native_symbol || it.symbol} ${it.qty} @ ${it.price}${it.sampled ? " (sampled feed)" : ""}`;
  const cells = [fmtClock(it.ts), it.venue, it.side, fmtPx(it.price), fmtUsd(it.notional_usd)];
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
async function loadFeed() {
  if (!state.symbol) return;
  const d = await getJson("/api/liquidations/feed", new URLSearchParams({ symbol: state.symbol, limit: 100, min_usd: state.min_usd }));
  $("feed").replaceChildren();
  seenFeed.clear();
  for (const it of d.items) addFeedRow(it, false, false);
}
function resubscribe() {
  if (ws && ws.readyState === 1) ws.send(JSON.stringify({ type: "subscribe", symbol: state.symbol, min_usd: state.min_usd, preset: state.preset }));
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
      if (m.symbol === state.symbol && m.notional_usd >= state.min_usd) addFeedRow(m, true, true);
    } else if (m.type === "heatmap_column") {
      if (m.symbol === state.symbol && state.view !== "realized") scheduleRefresh();
    } else if (m.type === "alert") {
      $("status").textContent = "alert: " + m.message;
    }
  };
}
let refreshTimer = null;
function scheduleRefresh() { clearTimeout(refreshTimer); refreshTimer = setTimeout(refresh, 500); }

// ---------------------------------------------------------------- main
let loading = 0;
async function refresh() {
  if (!state.symbol) { setNote("no markets stored yet — run a collector or an import"); return; }
  const mine = ++loading;
  $("status").textContent = "loading…";
  try {
    if (state.view === "heatmap") await loadHeatmap();
    else if (state.view === "map") await loadMap();
    else await loadRealized();
    if (mine === loading) $("status").textContent = "updated " + new Date().toISOString().slice(11, 19) + "Z";
  } catch (e) {
    setNote(String(e.message || e));
    $("status").textContent = "error";
  }
}

async function boot() {
  readUrl();
  catalogue = await (await fetch("/api/instruments")).json();
  fillSelects();
  bindStatic();
  writeUrl();
  renderControls();
  window.addEventListener("resize", () => { clearTimeout(timer); timer = setTimeout(refresh, 300); });
  await refresh();
  await loadFeed().catch(() => {});
  connectWs();
  document.body.dataset.ready = "1";
}
boot();
