// The map view's "measured" source: Hyperliquid positions as the exchange reports them
// (/api/measured/map, on the estimated map's grid and buckets), drawn instead of or beside
// the estimated map, labelled with its coverage, and the positions nearest liquidation.
// Loaded after app.js; app.js's loadMap calls drawMeasured(d, gen) once the map is drawn.
"use strict";

const MEASURED_VENUE = "hyperliquid";
const SOFT = typeof PALETTE === "undefined" ? {} : PALETTE; // web/palette.json, when served
const MEASURED_COLORS = { long: SOFT.long_soft || "#fca5a5", short: SOFT.short_soft || "#86efac", isolated: "#e5e7eb", cross: "#a78bfa" };
state.source = new URLSearchParams(location.search).get("source") || "estimated";
if (!["estimated", "measured", "both"].includes(state.source)) state.source = "estimated";
$("map-source").value = state.source;
$("map-source").addEventListener("change", (e) => { state.source = e.target.value; changed(true); });

const shortAddress = (a) => `${a.slice(0, 6)}…${a.slice(-4)}`;

function measuredTable(m) {
  if (!m.positions.length) return '<p class="muted">no measured positions in this range</p>';
  const rows = m.positions.map((p) => `<tr><td title="${esc(p.address)}">${esc(shortAddress(p.address))}</td>` +
    `<td class="${p.side === "long" ? "l" : "s"}">${p.side}</td><td>${esc(p.margin_mode)} ${p.leverage}x</td>` +
    `<td class="num">${fmtUsd(p.notional_usd)}</td><td class="num">${p.liquidation_px === null ? "–" : fmtPx(p.liquidation_px)}</td>` +
    `<td class="num">${p.distance_pct === null ? "–" : p.distance_pct.toFixed(2) + " %"}</td></tr>`);
  return `<table class="feed-table" id="measured-positions"><thead><tr><th>account</th><th>side</th><th>margin</th>` +
    `<th class="num">USD</th><th class="num">liq. price</th><th class="num">distance</th></tr></thead><tbody>${rows.join("")}</tbody></table>`;
}

/** Draw the measured source on the map (after the estimated map ``d`` is drawn). */
async function drawMeasured(d, gen) {
  const panel = $("measured-panel");
  if (state.source === "estimated") {
    $("map-summary").hidden = false;
    if (!panel.hidden) { panel.hidden = true; await Plotly.Plots.resize("map"); }
    return;
  }
  panel.hidden = false;
  $("map-summary").hidden = state.source === "measured"; // the estimated map's clusters
  if (!marketVenues().includes(MEASURED_VENUE)) {
    $("measured-label").textContent = "measured: Hyperliquid does not list this market";
    $("measured-list").innerHTML = "";
    return;
  }
  const win = isCustom() ? { range: coveringRange(+state.end - +state.start), at: state.end } : { range: state.range };
  const q = new URLSearchParams(Object.assign({ symbol: state.symbol, preset: state.preset, buckets: 160, limit: 12 }, win));
  const m = await getJson("/api/measured/map", q);
  fresh(gen);
  $("measured-label").textContent = m.label + (m.at_ms ? ` · as known at ${fmtTime(m.at_ms)}` : "") + (m.note ? ` · ${m.note}` : "");
  $("measured-list").innerHTML = measuredTable(m);
  document.body.dataset.measured = String(m.coverage ? m.coverage.accounts.polled : 0);
  await Plotly.Plots.resize("map"); // the chart shares the view with the panel
  fresh(gen);
  if (!m.bucket_edges.length) return;
  const mids = m.bucket_edges.slice(0, -1).map((e, i) => (e + m.bucket_edges[i + 1]) / 2);
  const sides = state.sides === "both" ? ["long", "short"] : [state.sides];
  const traces = [];
  if (state.source === "measured") {
    for (const side of sides) {
      for (const mode of ["isolated", "cross"]) {
        traces.push({ type: "bar", name: `measured ${side} · ${mode}`, x: mids, y: m.by_mode[mode][side],
          marker: { color: MEASURED_COLORS[side], opacity: mode === "cross" ? 0.55 : 0.95, line: { color: MEASURED_COLORS[mode], width: 1 } },
          hovertemplate: `measured ${side} ${mode} %{y:$,.0f}<extra>%{x:,.1f}</extra>` });
      }
    }
    const layout = Object.assign({}, $("map").layout, {
      title: { text: `${m.symbol} measured liquidation map · Hyperliquid positions · ${m.label}`, font: { size: 13 }, x: 0.01 },
    });
    layout.yaxis2 = Object.assign({}, layout.yaxis2, { visible: false });
    // keep the price line; the estimated map's max-pain marks are not the measured map's
    layout.shapes = (layout.shapes || []).filter((s) => s.line && s.line.dash === "dash");
    layout.annotations = (layout.annotations || []).filter((a) => String(a.text).startsWith("price"));
    await Plotly.react("map", traces, layout, CONFIG);
  } else {
    for (const side of sides) {
      traces.push({ type: "scatter", mode: "lines", name: `measured ${side} (Hyperliquid)`, x: mids, y: m[side + "_usd"],
        line: { shape: "hvh", color: MEASURED_COLORS[side], width: 2 }, hovertemplate: `measured ${side} %{y:$,.0f}<extra>%{x:,.1f}</extra>` });
    }
    await Plotly.addTraces("map", traces);
  }
  fresh(gen);
}
