/* Markets overview: realized liquidations over 1h/4h/12h/24h by coin and by venue
   (/api/overview) with the nearest dense zones above and below price (/api/map per coin);
   sortable tables. Refreshes every 15 s; an older answer never replaces a newer one. */
"use strict";

const ZONE_RANGE = "7d";
const view = { window: new URLSearchParams(location.search).get("window") || "24h", sort: { coins: ["total", -1], venues: ["total", -1] } };
let data = null; // {overview, maps: {symbol: map body}}
let generation = 0;

const nearest = (map, side) => (map && map.clusters && map.clusters[side] && map.clusters[side][0]) || null;

/** Columns: key, header, value of a row (for sorting and data-v), cell HTML. */
function coinColumns() {
  const w = (r) => r.windows[view.window];
  const zone = (side) => (r) => nearest(data.maps[r.symbol], side);
  const zoneCell = (z, cls) => (z ? `<span class="${cls}">${fmtPx(z.price)}</span> <span class="sub">${fmtPct(z.distance_pct)} · ${fmtUsd(z.usd)}</span>` : "–");
  return [
    { key: "symbol", head: "coin", val: (r) => r.symbol, html: (r) => `<a href="/?symbol=${encodeURIComponent(r.symbol)}&view=map">${esc(r.symbol)}</a>${r.lower_bound ? " *" : ""}` },
    { key: "price", head: "price", val: (r) => (data.maps[r.symbol] || {}).price ?? null, html: (r, v) => fmtPx(v) },
    ...data.overview.windows.map((name) => ({ key: "total_" + name, head: name, cls: name === view.window ? "cur" : "", val: (r) => r.windows[name].total, html: (r, v) => fmtUsd(v) })),
    ...sideColumns(w),
    { key: "above", head: "zone above (shorts)", val: (r) => (zone("above")(r) || {}).distance_pct ?? null, html: (r) => zoneCell(zone("above")(r), "s-txt") },
    { key: "below", head: "zone below (longs)", val: (r) => (zone("below")(r) || {}).distance_pct ?? null, html: (r) => zoneCell(zone("below")(r), "l-txt") },
  ];
}
function sideColumns(w) {
  return [
    { key: "long", head: "longs", cls: "l", val: (r) => w(r).long, html: (r, v) => fmtUsd(v) },
    { key: "short", head: "shorts", cls: "s", val: (r) => w(r).short, html: (r, v) => fmtUsd(v) },
    { key: "total", head: "total " + view.window, val: (r) => w(r).total, html: (r, v) => fmtUsd(v) },
    { key: "long_share", head: "long %", val: (r) => (w(r).total > 0 ? (100 * w(r).long) / w(r).total : null), html: (r, v) => (v === null ? "–" : v.toFixed(0) + "%") },
    { key: "count", head: "count", val: (r) => w(r).count, html: (r, v) => String(v) },
    {
      key: "largest", head: "largest single", val: (r) => (w(r).largest ? w(r).largest.usd : null),
      html: (r, v) => {
        const b = w(r).largest;
        return b ? `<span class="${b.side === "long" ? "l-txt" : "s-txt"}">${fmtUsd(v)}</span> <span class="sub">${esc(b.side)} · ${esc(b.venue)} · ${fmtStamp(b.ts)}</span>` : "–";
      },
    },
  ];
}
function venueColumns() {
  const w = (r) => r.windows[view.window];
  return [{ key: "venue", head: "venue", val: (r) => r.venue, html: (r) => esc(r.venue) + (r.lower_bound ? " *" : "") }, ...sideColumns(w)];
}

function table(id, rows, cols, name, rowKey) {
  const [key, dir] = view.sort[name];
  const col = cols.find((c) => c.key === key) || cols[0];
  const sorted = rows.slice().sort((a, b) => {
    const x = col.val(a), y = col.val(b);
    if (x === y) return 0;
    if (x === null) return 1; // unknowns last either way
    if (y === null) return -1;
    return (x < y ? -1 : 1) * dir;
  });
  const head = "<tr>" + cols.map((c) => `<th data-col="${c.key}" class="${c.key === col.key ? "sorted" + (dir > 0 ? " asc" : "") : ""}">${c.head}</th>`).join("") + "</tr>";
  const body = sorted.map((r) => `<tr data-row="${esc(rowKey(r))}">` + cols.map((c) => {
    const v = c.val(r);
    return `<td data-col="${c.key}" data-v="${v === null ? "" : esc(v)}" class="${c.cls || ""}">${c.html(r, v)}</td>`;
  }).join("") + "</tr>").join("");
  const el = $(id);
  el.innerHTML = head + (body || `<tr><td class="sub" colspan="${cols.length}">no markets stored yet</td></tr>`);
  el.querySelectorAll("th").forEach((th) => th.addEventListener("click", () => {
    const k = th.dataset.col;
    const [cur, d] = view.sort[name];
    // text columns start ascending, figures descending (largest first)
    view.sort[name] = [k, k === cur ? -d : k === "symbol" || k === "venue" || k === "above" ? 1 : -1];
    render();
  }));
}

function renderCards() {
  const box = $("cards");
  box.replaceChildren();
  for (const w of data.overview.windows) {
    const long = data.overview.coins.reduce((s, c) => s + c.windows[w].long, 0);
    const short = data.overview.coins.reduce((s, c) => s + c.windows[w].short, 0);
    const tot = long + short;
    const el = document.createElement("div");
    el.className = "ov-tile" + (w === view.window ? " on" : "");
    el.dataset.window = w;
    el.dataset.total = String(tot);
    const lp = tot > 0 ? (100 * long) / tot : 50;
    el.innerHTML = `<div class="w">${w} liquidations${data.overview.lower_bound ? " (lower bound)" : ""}</div><div class="v">${fmtUsd(tot)}</div>` +
      `<div class="split"><span class="l-txt">longs ${fmtUsd(long)}</span> · <span class="s-txt">shorts ${fmtUsd(short)}</span></div>` +
      `<div class="ov-bar"><span class="l" style="width:${lp}%"></span><span class="s" style="width:${100 - lp}%"></span></div>`;
    el.addEventListener("click", () => { view.window = w; render(); });
    box.appendChild(el);
  }
}

function render() {
  const chips = $("windows");
  chips.replaceChildren();
  for (const w of data.overview.windows) {
    const c = document.createElement("span");
    c.className = "chip" + (w === view.window ? " on" : "");
    c.textContent = w;
    c.dataset.window = w;
    c.addEventListener("click", () => { view.window = w; render(); });
    chips.appendChild(c);
  }
  const q = new URLSearchParams(location.search);
  q.set("window", view.window);
  history.replaceState(null, "", "?" + q.toString());
  renderCards();
  table("coins", data.overview.coins, coinColumns(), "coins", (r) => r.symbol);
  table("venues", data.overview.venues, venueColumns(), "venues", (r) => r.venue);
  const ends = data.overview.coins.map((c) => c.end);
  $("asof").textContent = ends.length ? `windows end at each market's latest data (${fmtTime(Math.max(...ends))})` : "";
  const sampled = data.overview.venues.filter((v) => v.lower_bound).map((v) => v.venue);
  $("foot").textContent = sampled.length ? `* lower bound: ${sampled.join(", ")} ${sampled.length > 1 ? "publish" : "publishes"} only a sample of ${sampled.length > 1 ? "their" : "its"} liquidations.` : "";
}

async function load() {
  const gen = ++generation;
  try {
    const overview = await getJson("/api/overview");
    const maps = {};
    await Promise.all(overview.coins.map(async (c) => {
      try { maps[c.symbol] = await getJson("/api/map", new URLSearchParams({ symbol: c.symbol, range: ZONE_RANGE, buckets: 160 })); } catch (e) { maps[c.symbol] = null; }
    }));
    if (gen !== generation) return; // a newer load answered first
    if (!overview.windows.includes(view.window)) view.window = overview.windows[overview.windows.length - 1];
    data = { overview, maps };
    render();
    $("status").textContent = "updated " + new Date().toISOString().slice(11, 19) + "Z";
    document.body.dataset.ready = "1";
  } catch (e) {
    if (gen === generation) $("status").textContent = "error: " + (e.message || e);
  }
}
load();
setInterval(load, 15000);
