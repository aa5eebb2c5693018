// The scorecard page: /api/score per preset (hot share vs baseline with CIs, false
// positives), the estimated-vs-measured Hyperliquid score (/api/measured/score) and the
// latest stored alerts (/api/alerts).
"use strict";

const pct = (x) => (x === null || x === undefined ? "–" : (100 * x).toFixed(1) + " %");
const ci = (v) => `${pct(v.value)} <span class="sc-note">[${pct(v.ci_low)}, ${pct(v.ci_high)}]</span>`;

function toggleSource() {
  const sim = $("source").value === "sim";
  document.querySelectorAll(".sim").forEach((e) => (e.style.display = sim ? "" : "none"));
  document.querySelectorAll(".store").forEach((e) => (e.style.display = sim ? "none" : ""));
}

function query() {
  const p = new URLSearchParams({ presets: $("presets").value });
  if ($("source").value === "sim") {
    p.set("scenario", $("scenario").value);
    p.set("seed", $("seed").value);
    p.set("hours", $("hours").value);
  } else {
    p.set("symbol", $("symbol").value);
    p.set("venue", $("venue").value);
    p.set("days", $("days").value);
  }
  return p;
}

function rows(body) {
  const out = Object.entries(body.models).map(([name, c]) => [name, c]);
  if (body.broken_shuffled) out.push(["broken (shuffled)", body.broken_shuffled]);
  if (body.oracle_true_profile) out.push(["oracle (true levels)", body.oracle_true_profile]);
  return out;
}

function render(body) {
  const rs = rows(body);
  const head = "<tr><th>preset</th><th>hot share [95 % CI]</th><th>baseline</th><th>lift</th>" +
    "<th>false positives / reached</th><th>windows</th><th>EMD</th></tr>";
  const lines = rs.map(([name, c]) => {
    const cls = c.lift.ci_low > 0 ? "sc-good" : c.lift.ci_high < 0 ? "sc-bad" : "";
    const emd = c.emd_pct === undefined || c.emd_pct === null ? "–" : c.emd_pct.toFixed(2) + " %";
    return `<tr><td>${esc(name)}</td><td>${ci(c.hot_share)}</td><td>${ci(c.baseline_share)}</td>` +
      `<td class="${cls}">${ci(c.lift)}</td><td>${c.false_positives} / ${c.zones_reached}</td>` +
      `<td>${c.windows}</td><td>${emd}</td></tr>`;
  });
  $("table").innerHTML = head + lines.join("");
  const names = rs.map((r) => r[0]);
  const bar = (key, label, color) => ({
    type: "bar", name: label, x: names, y: rs.map((r) => r[1][key].value),
    marker: { color },
    error_y: {
      type: "data", symmetric: false,
      array: rs.map((r) => r[1][key].ci_high - r[1][key].value),
      arrayminus: rs.map((r) => r[1][key].value - r[1][key].ci_low),
      color: "#7f8aa3",
    },
  });
  Plotly.react("chart", [bar("hot_share", "hot share", "#f5c542"), bar("baseline_share", "baseline", "#3b4a66")], {
    barmode: "group", paper_bgcolor: "#121722", plot_bgcolor: "#121722",
    font: { color: "#d7dce5", size: 12 }, margin: { l: 64, r: 10, t: 10, b: 40 },
    yaxis: { tickformat: ".0%", gridcolor: "#232b3b", rangemode: "tozero", title: { text: "share of realized notional" } },
    legend: { orientation: "h", y: 1.1 },
  }, { displayModeBar: false, responsive: true });
}

function sourceText(src) {
  if (src.scenario !== undefined) {
    return `source: simulator, ${src.scenario} scenario, seed ${src.seed}, ${src.hours} h`;
  }
  return `source: stored ${src.venue} ${src.symbol}, last ${src.days} d`;
}

async function score() {
  $("status").textContent = "scoring…";
  $("run").disabled = true;
  delete document.body.dataset.scored;
  try {
    const r = await fetch("/api/score?" + query());
    const body = await r.json();
    if (!r.ok) {
      const d = body.detail;
      throw new Error(Array.isArray(d) ? d.map((x) => x.msg).join("; ") : d);
    }
    render(body);
    $("status").textContent = sourceText(body.source || {});
    document.body.dataset.scored = "1";
  } catch (e) {
    $("status").textContent = "error: " + e.message;
    document.body.dataset.scored = "error";
  } finally {
    $("run").disabled = false;
  }
}

const num = (x, digits) => (x === null || x === undefined ? "–" : x.toFixed(digits));

function renderMeasured(body) {
  const m = body.measured;
  if (!m) {
    $("measured").innerHTML = `<tr><td class="sc-note">${esc(body.note || "nothing measured to score")}` +
      " (measured positions come from liqscope positions poll)</td></tr>";
    return 0;
  }
  const head = "<tr><th>preset</th><th>side</th><th>EMD</th><th>top-20 % overlap</th><th>rank corr.</th>" +
    "<th>measured USD</th><th>estimated USD</th></tr>";
  const lines = [];
  let cov = null;
  for (const [name, r] of Object.entries(m.models)) {
    cov = r.coverage;
    for (const side of ["long", "short", "total"]) {
      const s = r[side];
      lines.push(`<tr data-preset="${esc(name)}" data-side="${side}"><td>${esc(name)}</td><td>${side}</td>` +
        `<td class="emd">${num(s.emd_pct, 2)} %</td><td class="overlap">${num(s.top20_overlap, 3)}</td>` +
        `<td class="rank">${num(s.rank_corr, 3)}</td><td>${fmtUsd(s.measured_usd)}</td><td>${fmtUsd(s.estimated_usd)}</td></tr>`);
    }
  }
  $("measured").innerHTML = head + lines.join("");
  if (cov) {
    const share = ["long", "short"].map((k) => cov.measured_over_oi[k]).filter((x) => x !== null);
    const pctOi = share.length ? pct(share.reduce((a, b) => a + b, 0) / share.length) + " of OI" : "OI unknown";
    $("measured-cov").textContent = `${body.coin} on Hyperliquid as known at ` +
      `${new Date(m.at_ms).toISOString().slice(0, 16).replace("T", " ")}Z · measured: ${cov.accounts.polled} accounts ` +
      `(${cov.accounts.known} known), coverage ${pctOi}. `;
  }
  return Object.keys(m.models).length;
}

async function measured() {
  delete document.body.dataset.measured;
  try {
    const p = new URLSearchParams({ symbol: $("symbol").value, days: $("days").value, presets: $("presets").value });
    const r = await fetch("/api/measured/score?" + p);
    const body = await r.json();
    if (!r.ok) {
      const d = body.detail;
      throw new Error(Array.isArray(d) ? d.map((x) => x.msg).join("; ") : d);
    }
    document.body.dataset.measured = String(renderMeasured(body));
  } catch (e) {
    $("measured").innerHTML = `<tr><td class="sc-note">measured score unavailable: ${esc(e.message)}</td></tr>`;
    document.body.dataset.measured = "error";
  }
}

async function alerts() {
  try {
    const r = await fetch("/api/alerts?limit=20");
    const body = await r.json();
    const list = body.alerts || [];
    $("alerts").innerHTML = list.length
      ? "<tr><th>time (UTC)</th><th>rule</th><th>venue</th><th>symbol</th><th>message</th></tr>" +
        list.map((a) => `<tr><td>${new Date(a.ts).toISOString().slice(0, 19).replace("T", " ")}</td>` +
          `<td>${esc(a.rule_id)}</td><td>${esc(a.venue)}</td><td>${esc(a.symbol)}</td>` +
          `<td class="sc-msg">${esc(a.message)}</td></tr>`).join("")
      : '<tr><td class="sc-note">no alerts stored yet</td></tr>';
    document.body.dataset.alerts = String(list.length);
  } catch (e) {
    $("alerts").innerHTML = `<tr><td class="sc-note">alerts unavailable: ${esc(e.message)}</td></tr>`;
  }
}

$("source").addEventListener("change", toggleSource);
$("run").addEventListener("click", () => { score(); measured(); });
toggleSource();
score();
measured();
alerts();
setInterval(alerts, 15000);
