/* The alert panel: stored alerts (/api/alerts) plus live ones (WebSocket "alert" messages),
   filterable by symbol, venue and rule; each links to its moment on the heatmap. Browser
   notifications for live alerts once the user allows them (asked on a click only). */
"use strict";

const Alerts = (() => {
  const HISTORY = 200;
  const items = []; // newest first, normalised
  const seen = new Set();
  let onPick = () => {};
  let picked = null; // key of the alert shown on the heatmap

  const severityOf = (kind) => (kind === "cascade" ? "critical" : kind === "momentum" ? "info" : "warning");

  /** One shape for stored rows ({rule_id, condition, details}) and WS messages ({rule, kind, data}). */
  function normalise(a) {
    const kind = a.kind || a.condition || "";
    return {
      rule: a.rule || a.rule_id || kind || "?",
      kind,
      symbol: a.symbol || "",
      venue: a.venue || "",
      ts: Number(a.ts),
      price: a.price ?? (a.data || a.details || {}).price ?? null,
      severity: a.severity || severityOf(kind),
      message: a.message || "",
    };
  }
  const keyOf = (a) => [a.rule, a.venue, a.symbol, a.ts].join("|");

  function add(raw, live) {
    const a = normalise(raw);
    const key = keyOf(a);
    if (seen.has(key) || !isFinite(a.ts)) return null;
    seen.add(key);
    a.key = key;
    a.live = live;
    let i = 0;
    while (i < items.length && items[i].ts > a.ts) i++;
    items.splice(i, 0, a);
    if (items.length > HISTORY) seen.delete(items.pop().key);
    return a;
  }

  function fillFilter(id, values) {
    const sel = $(id);
    const cur = sel.value || "";
    const opts = [new Option("all", "")].concat([...values].sort().map((v) => new Option(v, v)));
    sel.replaceChildren(...opts);
    sel.value = [...values].includes(cur) ? cur : "";
  }

  function render() {
    fillFilter("alert-symbol", new Set(items.map((a) => a.symbol)));
    fillFilter("alert-venue", new Set(items.map((a) => a.venue)));
    fillFilter("alert-rule", new Set(items.map((a) => a.rule)));
    const fs = $("alert-symbol").value, fv = $("alert-venue").value, fr = $("alert-rule").value;
    const shown = items.filter((a) => (!fs || a.symbol === fs) && (!fv || a.venue === fv) && (!fr || a.rule === fr));
    const list = $("alert-list");
    list.replaceChildren();
    for (const a of shown) {
      const li = document.createElement("li");
      li.className = "alert " + a.severity + (a.live ? " live" : "") + (a.key === picked ? " picked" : "");
      li.dataset.key = a.key;
      const link = document.createElement("a");
      link.href = pickUrl(a);
      link.title = "show this moment on the heatmap";
      link.innerHTML = `<span class="a-time">${esc(fmtStamp(a.ts))}</span>` +
        `<span class="a-tag">${esc(a.symbol)} · ${esc(a.venue)} · ${esc(a.rule)}</span>` +
        `<span class="a-msg">${esc(a.message)}</span>`;
      link.addEventListener("click", (ev) => { ev.preventDefault(); pick(a); });
      li.appendChild(link);
      list.appendChild(li);
    }
    $("alert-count").textContent = String(items.length);
    if (!shown.length) {
      const li = document.createElement("li");
      li.className = "alert-empty";
      li.textContent = items.length ? "no alert matches the filters" : "no alerts yet — they appear here as rules fire";
      list.appendChild(li);
    }
    document.body.dataset.alerts = String(items.length);
  }

  function pick(a) {
    picked = a.key;
    render();
    onPick(a);
  }

  // the heatmap around the alert: 6 h before, 2 h after (the API clips to stored data)
  const BEFORE = 6 * 3600e3, AFTER = 2 * 3600e3;
  const windowOf = (a) => ({ start: a.ts - BEFORE, end: a.ts + AFTER });
  function pickUrl(a) {
    const q = new URLSearchParams(location.search);
    const w = windowOf(a);
    q.set("view", "heatmap");
    q.set("symbol", a.symbol);
    q.set("range", "custom");
    q.set("start", String(w.start));
    q.set("end", String(w.end));
    q.set("mark", String(a.ts));
    return "?" + q.toString();
  }

  // ------------------------------------------------------------ notifications
  const canNotify = () => "Notification" in window;
  function renderNotify() {
    const b = $("alert-notify");
    if (!canNotify()) { b.hidden = true; return; }
    const p = Notification.permission;
    b.textContent = p === "granted" ? "notifications on" : p === "denied" ? "notifications blocked" : "notify me";
    b.disabled = p !== "default";
    b.classList.toggle("on", p === "granted");
  }
  function notify(a) {
    if (!canNotify() || Notification.permission !== "granted") return;
    const n = new Notification(`${a.symbol} ${a.rule} (${a.venue})`, { body: a.message, tag: a.key });
    n.onclick = () => { window.focus(); pick(a); };
  }

  async function loadHistory() {
    try {
      const d = await getJson("/api/alerts", new URLSearchParams({ limit: HISTORY }));
      for (const a of d.alerts || []) add(a, false);
    } catch (e) {
      $("alert-list").textContent = "alerts unavailable: " + (e.message || e);
      return;
    }
    render();
  }

  function init(pick) {
    onPick = pick;
    for (const id of ["alert-symbol", "alert-venue", "alert-rule"]) $(id).addEventListener("change", render);
    $("alert-notify").addEventListener("click", async () => {
      if (canNotify() && Notification.permission === "default") await Notification.requestPermission();
      renderNotify();
    });
    renderNotify();
    return loadHistory();
  }

  /** A WebSocket alert message: into the list, flashed, and notified when allowed. */
  function live(m) {
    const a = add(m, true);
    if (!a) return;
    render();
    a.live = false; // flashed once
    notify(a);
  }

  return { init, live, windowOf, items };
})();
