/* Helpers shared by the liqscope pages (main UI, overview, scorecard): formatting, JSON fetch,
   colours (from palette.js). Loaded before each page's own script. */
"use strict";

const $ = (id) => document.getElementById(id);
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
const fmtUsd = (v) => {
  if (v === null || v === undefined || !isFinite(v)) return "–";
  const a = Math.abs(v);
  if (a >= 1e9) return "$" + (v / 1e9).toFixed(2) + "B";
  if (a >= 1e6) return "$" + (v / 1e6).toFixed(2) + "M";
  if (a >= 1e3) return "$" + (v / 1e3).toFixed(1) + "K";
  return "$" + v.toFixed(0);
};
const fmtPx = (v) => (v === null || v === undefined || !isFinite(v) ? "–" : v >= 1000 ? v.toLocaleString("en-US", { maximumFractionDigits: 1 }) : (+v).toPrecision(6));
const fmtPct = (v) => (v === null || v === undefined || !isFinite(v) ? "–" : (v > 0 ? "+" : "") + v.toFixed(2) + "%");
/** 2026-12-02 06:24Z */
const fmtTime = (ms) => new Date(ms).toISOString().replace("T", " ").slice(0, 16) + "Z";
/** 12-02 06:24:01 (the date matters once a feed spans midnight) */
const fmtStamp = (ms) => new Date(ms).toISOString().slice(5, 19).replace("T", " ");

// colours everywhere come from /static/palette.js (web/palette.json, which the PNG exports
// read too): longs liquidated red, shorts green, one fixed colour per leverage tier
const LONG_COLOR = PALETTE.long;
const SHORT_COLOR = PALETTE.short;
const tierColor = (t) => PALETTE.tiers[t] || PALETTE.tier_other;

async function getJson(path, params) {
  const r = await fetch(params ? path + "?" + params.toString() : path);
  const body = await r.json();
  if (!r.ok) {
    const d = body.detail;
    throw new Error(Array.isArray(d) ? d.map((x) => x.msg).join("; ") : String(d));
  }
  return body;
}

/** Newest data time of a response's provenance: the close of the last stored candle. */
function dataTime(prov) {
  const last = prov ? Math.max(0, ...prov.venues.map((v) => v.last_ts || 0)) : 0;
  return last ? last + 60000 : null;
}
