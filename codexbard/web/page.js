"use strict";
// codexbard's web page: cards from GET /usage, history charts from GET /history, live updates from
// GET /events (Server-Sent Events), polling GET /usage every 60 s when the stream is absent or failing.
(function () {
  const POLL_MS = 60000;
  const TICK_MS = 15000;
  const WARNING = 75;
  const CRITICAL = 90;
  const RANGES = { "24h": { seconds: 86400, step: 600 }, "7d": { seconds: 604800, step: 3600 },
                   "30d": { seconds: 2592000, step: 14400 } };
  const MAIN_WINDOWS = ["primary", "secondary", "tertiary"];
  const SVG_NS = "http://www.w3.org/2000/svg";

  const state = {
    order: [],                 // card keys in display order
    payloads: new Map(),       // key -> provider payload
    history: new Map(),        // key|window|range -> {points, loadedFor}
    range: "24h",
    events: null,
    pollTimer: null,
    signedOut: false,
  };

  class NeedsAuth extends Error {}

  const byId = (id) => document.getElementById(id);

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function svgEl(tag, attrs) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, String(value));
    return node;
  }

  function keyOf(p) { return p.provider + ":" + (p.account === null || p.account === undefined ? "" : p.account); }

  function cssEscape(text) { return window.CSS && CSS.escape ? CSS.escape(text) : text.replace(/["\\]/g, "\\$&"); }

  // ---- formatting -------------------------------------------------------------------------------------------

  function pct(value) {
    if (typeof value !== "number" || !isFinite(value)) return "–";
    return (Math.round(value * 10) / 10).toString() + "%";
  }

  function level(value) {
    if (value >= CRITICAL) return "critical";
    if (value >= WARNING) return "warning";
    return "ok";
  }

  function duration(seconds) {
    seconds = Math.max(0, Math.round(seconds));
    const d = Math.floor(seconds / 86400);
    const h = Math.floor((seconds % 86400) / 3600);
    const m = Math.floor((seconds % 3600) / 60);
    if (d > 0) return d + "d " + h + "h";
    if (h > 0) return h + "h " + m + "m";
    if (m > 0) return m + "m";
    return "<1m";
  }

  function localTime(date) {
    const now = new Date();
    const opts = { hour: "2-digit", minute: "2-digit" };
    if (Math.abs(date - now) > 20 * 3600 * 1000) {
      opts.weekday = "short";
      if (Math.abs(date - now) > 6 * 86400 * 1000) { delete opts.weekday; opts.month = "short"; opts.day = "numeric"; }
      if (date.getFullYear() !== now.getFullYear()) opts.year = "numeric";
    }
    return date.toLocaleString([], opts);
  }

  function parseTime(iso) {
    if (!iso) return null;
    const date = new Date(iso);
    return isNaN(date.getTime()) ? null : date;
  }

  function resetText(iso) {
    const at = parseTime(iso);
    if (!at) return "";
    const left = (at - Date.now()) / 1000;
    if (left <= 0) return "reset due (" + localTime(at) + ")";
    return "resets in " + duration(left) + " · " + localTime(at);
  }

  function money(value, unit) {
    if (typeof value !== "number" || !isFinite(value)) return "–";
    const rounded = Math.round(value * 100) / 100;
    if (unit === "USD") return "$" + rounded.toFixed(2);
    return rounded.toLocaleString([], { maximumFractionDigits: 2 }) + (unit ? " " + unit : "");
  }

  function windowTitle(id, w) {
    if (w.label) return w.label;
    if (w.windowMinutes === 300) return "5-hour";
    if (w.windowMinutes === 10080) return "Weekly";
    if (w.windowMinutes === 1440) return "Daily";
    return id.charAt(0).toUpperCase() + id.slice(1);
  }

  function windowsOf(p) {
    const usage = p.usage;
    if (!usage) return [];
    const out = [];
    const forecasts = p.forecast || {};
    for (const id of MAIN_WINDOWS) {
      const w = usage[id];
      if (w && typeof w === "object") {
        out.push({ id, title: windowTitle(id, w), w, pace: (p.pace || {})[id] || null, forecast: forecasts[id] || null });
      }
    }
    for (const extra of usage.extraRateWindows || []) {
      if (extra && extra.window && extra.id) {
        out.push({ id: extra.id, title: extra.title || extra.id, w: extra.window, pace: null,
                   forecast: forecasts[extra.id] || null });
      }
    }
    return out;
  }

  // ---- network ----------------------------------------------------------------------------------------------

  async function getJSON(url) {
    const response = await fetch(url, { credentials: "same-origin", headers: { accept: "application/json" } });
    if (response.status === 401) throw new NeedsAuth();
    if (!response.ok) {
      let message = "HTTP " + response.status;
      try { message = (await response.json()).error || message; } catch (ignored) { /* not JSON */ }
      throw new Error(message);
    }
    return response.json();
  }

  function historyUrl(p, windowId, range) {
    const spec = RANGES[range];
    const params = new URLSearchParams({ provider: p.provider, window: windowId,
                                         since: String(Math.floor(Date.now() / 1000) - spec.seconds),
                                         step: String(spec.step) });
    if (p.account !== null && p.account !== undefined) params.set("account", p.account);
    return "/history?" + params.toString();
  }

  async function loadHistory(p, windowId) {
    const range = state.range;
    const id = keyOf(p) + "|" + windowId + "|" + range;
    const cached = state.history.get(id);
    if (cached && cached.loadedFor === p.fetchedAt) return;
    state.history.set(id, { points: cached ? cached.points : null, loadedFor: p.fetchedAt });
    try {
      const body = await getJSON(historyUrl(p, windowId, range));
      state.history.set(id, { points: Array.isArray(body.points) ? body.points : [], loadedFor: p.fetchedAt });
    } catch (err) {
      state.history.set(id, { points: [], loadedFor: null, failed: true });  // the next update tries again
      if (err instanceof NeedsAuth) { signedOut(); return; }
    }
    drawChart(keyOf(p), windowId);
  }

  // ---- rendering --------------------------------------------------------------------------------------------

  function badge(kind, text, title) {
    const b = el("span", "badge " + kind, text);
    if (title) b.title = title;
    return b;
  }

  function renderCard(p) {
    const key = keyOf(p);
    const card = el("article", "card");
    card.dataset.key = key;
    card.dataset.provider = p.provider;
    if (p.account) card.dataset.account = p.account;

    const head = el("header", "card-head");
    const title = el("h2", null, p.displayName || p.provider);
    if (p.account) { title.append(" "); title.append(el("span", "account", p.account)); }
    head.append(title);
    const badges = el("span", "badges");
    if (p.stale) badges.append(badge("stale", "stale", "showing the last good data"));
    if (p.error) badges.append(badge("error", "error", p.error.kind));
    if (p.lastError) badges.append(badge("last-error", "last poll failed", p.lastError.kind));
    const status = p.status;
    if (status && status.indicator && status.indicator !== "none" && status.indicator !== "unknown") {
      const s = badge("status", "");
      if (status.url && /^https?:\/\//.test(status.url)) {
        const link = el("a", null, "status: " + status.indicator);
        link.href = status.url;
        link.rel = "noopener noreferrer";
        link.target = "_blank";
        s.append(link);
      } else {
        s.textContent = "status: " + status.indicator;
      }
      if (status.description) s.title = status.description;
      badges.append(s);
    }
    head.append(badges);
    card.append(head);

    const meta = [];
    if (p.source) meta.push(p.source);
    const fetched = parseTime(p.fetchedAt);
    if (fetched) meta.push("fetched " + localTime(fetched));
    const next = parseTime(p.nextRefreshAt);
    if (next) meta.push("next " + localTime(next));
    if (p.usage && p.usage.loginMethod) meta.push(p.usage.loginMethod);
    card.append(el("p", "meta", meta.join(" · ")));

    if (p.error) card.append(el("p", "message error", p.error.message || p.error.kind));
    if (p.lastError) {
      const at = parseTime(p.lastError.at);
      card.append(el("p", "message last-error",
                     "Last poll failed" + (at ? " at " + localTime(at) : "") + ": " +
                     (p.lastError.message || p.lastError.kind)));
    }

    for (const win of windowsOf(p)) card.append(renderWindow(key, win));

    const credits = p.credits;
    if (credits && typeof credits.remaining === "number") {
      const line = el("div", "credits");
      line.append("Credits ");
      line.append(el("strong", null, money(credits.remaining, credits.unit)));
      line.append(typeof credits.total === "number" ? " left of " + money(credits.total, credits.unit) : " left");
      card.append(line);
    }
    const spend = p.usage && p.usage.providerCost;
    if (spend && typeof spend.used === "number") {
      const line = el("div", "spend");
      line.append("Spend ");
      line.append(el("strong", null, money(spend.used, spend.currencyCode)));
      if (spend.limit) line.append(" of " + money(spend.limit, spend.currencyCode));
      if (spend.period) line.append(" · " + spend.period);
      card.append(line);
    }
    const details = p.usage && Array.isArray(p.usage.details) ? p.usage.details : [];
    for (const section of details) {
      if (!section || !Array.isArray(section.rows) || section.rows.length === 0) continue;
      const box = el("details", "details");
      box.append(el("summary", null, section.title || "Details"));
      const table = el("table");
      for (const row of section.rows) {
        const tr = el("tr");
        tr.append(el("td", "label", row.label));
        tr.append(el("td", "value", row.secondaryValue ? row.value + " · " + row.secondaryValue : row.value));
        table.append(tr);
      }
      box.append(table);
      card.append(box);
    }
    return card;
  }

  function renderWindow(key, win) {
    const w = win.w;
    const used = typeof w.usedPercent === "number" ? w.usedPercent : 0;
    const box = el("section", "window");
    box.dataset.window = win.id;
    const head = el("div", "window-head");
    head.append(el("span", "window-title", win.title));
    head.append(el("span", "used", pct(w.usedPercent) + " used"));
    box.append(head);

    const bar = el("div", "bar");
    bar.setAttribute("role", "progressbar");
    bar.setAttribute("aria-valuemin", "0");
    bar.setAttribute("aria-valuemax", "100");
    bar.setAttribute("aria-valuenow", String(Math.round(used)));
    bar.setAttribute("aria-label", win.title + " used");
    const fill = el("div", "bar-fill level-" + level(used));
    fill.style.width = Math.max(0, Math.min(100, used)) + "%";
    bar.append(fill);
    box.append(bar);

    const meta = el("div", "window-meta");
    if (w.resetsAt) {
      const reset = el("span", "reset", resetText(w.resetsAt));
      reset.dataset.resetsAt = w.resetsAt;
      meta.append(reset);
    } else if (w.resetDescription) {
      meta.append(el("span", "reset", w.resetDescription));
    }
    if (w.resetsAt && w.resetDescription && w.resetDescription !== win.title) {
      meta.append(el("span", "note", w.resetDescription));
    }
    if (win.pace) {
      const pace = el("span", "pace", win.pace.summary || win.pace.stage);
      pace.dataset.stage = win.pace.stage || "";
      meta.append(pace);
    }
    if (win.forecast) {
      const f = win.forecast;
      const parts = [];
      if (typeof f.projectedUsedPercentAtReset === "number") parts.push("≈" + pct(f.projectedUsedPercentAtReset) + " at reset");
      if (typeof f.burnRatePercentPerHour === "number") parts.push(pct(f.burnRatePercentPerHour) + "/h");
      const exhausts = parseTime(f.exhaustsAt);
      if (exhausts) parts.push("runs out " + localTime(exhausts));
      const node = el("span", "forecast" + (exhausts ? " exhausts" : ""), "Forecast " + parts.join(", "));
      meta.append(node);
    }
    box.append(meta);

    const figure = el("figure", "chart");
    figure.dataset.window = win.id;
    box.append(figure);
    fillChart(figure, key, win.id);
    return box;
  }

  function fillChart(figure, key, windowId) {
    figure.replaceChildren();
    const entry = state.history.get(key + "|" + windowId + "|" + state.range);
    const points = entry && entry.points ? entry.points : null;
    // Drawn in CSS pixels of the figure (redrawn on resize), so dots stay round and lines crisp.
    const width = Math.max(120, Math.round(figure.clientWidth || 300));
    const height = 64;
    const top = 6;
    const svg = svgEl("svg", { viewBox: "0 0 " + width + " " + height, preserveAspectRatio: "none",
                               role: "img", "aria-label": "usage history, " + state.range });
    svg.dataset.range = state.range;
    const y = (v) => top + (height - top) * (1 - Math.max(0, Math.min(110, v)) / 110);
    for (const v of [0, 50]) svg.append(svgEl("line", { class: "grid", x1: 0, x2: width, y1: y(v), y2: y(v) }));
    svg.append(svgEl("line", { class: "limit", x1: 0, x2: width, y1: y(100), y2: y(100) }));
    const labels = [[100, "100%"], [50, "50%"]];
    for (const [v, text] of labels) {
      const label = svgEl("text", { class: "tick", x: 2, y: y(v) - 2 });
      label.textContent = text;
      svg.append(label);
    }
    const span = RANGES[state.range].seconds * 1000;
    const end = Date.now();
    const start = end - span;
    const usable = (points || [])
      .map((pt) => ({ t: parseTime(pt.t), v: pt.usedPercent }))
      .filter((pt) => pt.t && typeof pt.v === "number" && isFinite(pt.v))
      .sort((a, b) => a.t - b.t);
    svg.dataset.count = String(usable.length);
    if (usable.length > 0) {
      const x = (t) => Math.max(0, Math.min(width, ((t - start) / span) * width));
      const coords = usable.map((pt) => x(pt.t).toFixed(1) + "," + y(pt.v).toFixed(1));
      const last = usable[usable.length - 1];
      svg.dataset.last = String(last.v);
      coords.push(x(end).toFixed(1) + "," + y(last.v).toFixed(1));  // the newest value holds until now
      const first = usable[0];
      svg.append(svgEl("polygon", { class: "area",
        points: x(first.t).toFixed(1) + "," + y(0) + " " + coords.join(" ") + " " + x(end).toFixed(1) + "," + y(0) }));
      svg.append(svgEl("polyline", { class: "line", points: coords.join(" ") }));
      const dot = svgEl("circle", { class: "dot", cx: x(last.t).toFixed(1), cy: y(last.v).toFixed(1), r: 3 });
      const title = svgEl("title");
      title.textContent = pct(last.v) + " at " + localTime(last.t);
      dot.append(title);
      svg.append(dot);
    }
    figure.append(svg);
    const axis = el("figcaption", "chart-axis");
    const label = { "24h": "24 h ago", "7d": "7 d ago", "30d": "30 d ago" }[state.range];
    if (points === null) axis.append(el("span", "chart-empty", "loading history…"));
    else if (entry.failed) axis.append(el("span", "chart-empty", "history unavailable"));
    else if (usable.length === 0) axis.append(el("span", "chart-empty", "no history in this range yet"));
    else axis.append(el("span", null, label));
    axis.append(el("span", null, "now"));
    figure.append(axis);
  }

  function redrawCharts() {
    for (const figure of document.querySelectorAll("figure.chart")) {
      const card = figure.closest(".card");
      if (card) fillChart(figure, card.dataset.key, figure.dataset.window);
    }
  }

  function drawChart(key, windowId) {
    const card = document.querySelector('.card[data-key="' + cssEscape(key) + '"]');
    if (!card) return;
    const figure = card.querySelector('figure.chart[data-window="' + cssEscape(windowId) + '"]');
    if (figure) fillChart(figure, key, windowId);
  }

  function upsert(p, position) {
    if (!p || typeof p.provider !== "string") return;
    const key = keyOf(p);
    state.payloads.set(key, p);
    if (!state.order.includes(key)) {
      if (typeof position === "number") state.order.splice(position, 0, key);
      else state.order.push(key);
    }
    const fresh = renderCard(p);
    const old = document.querySelector('.card[data-key="' + cssEscape(key) + '"]');
    const cards = byId("cards");
    if (old) old.replaceWith(fresh);
    else {
      const index = state.order.indexOf(key);
      const nextKey = state.order[index + 1];
      const next = nextKey && document.querySelector('.card[data-key="' + cssEscape(nextKey) + '"]');
      if (next) cards.insertBefore(fresh, next);
      else cards.append(fresh);
    }
    for (const figure of fresh.querySelectorAll("figure.chart")) fillChart(figure, key, figure.dataset.window);
    for (const win of windowsOf(p)) loadHistory(p, win.id);
    byId("empty").hidden = state.order.length > 0;
    stamp();
  }

  function replaceAll(list) {
    if (!Array.isArray(list)) return;
    const keys = list.filter((p) => p && typeof p.provider === "string").map(keyOf);
    for (const key of state.order.filter((k) => !keys.includes(k))) {
      state.payloads.delete(key);
      const old = document.querySelector('.card[data-key="' + cssEscape(key) + '"]');
      if (old) old.remove();
    }
    state.order = keys.slice();
    list.forEach((p, index) => upsert(p, index));
    byId("empty").hidden = state.order.length > 0;
  }

  function applyStatus(entry) {
    if (!entry || typeof entry.provider !== "string") return;
    for (const p of Array.from(state.payloads.values())) {
      if (p.provider !== entry.provider) continue;
      const status = Object.assign({}, entry);
      delete status.provider;
      upsert(Object.assign({}, p, { status }));
    }
  }

  function stamp() {
    byId("updated").textContent = "Updated " + new Date().toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  }

  function tick() {
    for (const node of document.querySelectorAll("[data-resets-at]")) node.textContent = resetText(node.dataset.resetsAt);
  }

  function setLive(kind, text) {
    const live = byId("live");
    live.dataset.state = kind;
    live.textContent = text;
  }

  function showProblem(text) {
    const problem = byId("problem");
    problem.textContent = text || "";
    problem.hidden = !text;
  }

  // ---- live updates -----------------------------------------------------------------------------------------

  function startPolling() {
    if (state.pollTimer === null) state.pollTimer = setInterval(pollUsage, POLL_MS);
  }

  function stopPolling() {
    if (state.pollTimer !== null) { clearInterval(state.pollTimer); state.pollTimer = null; }
  }

  async function pollUsage() {
    if (state.events && state.events.readyState === 1) return;
    try {
      replaceAll(await getJSON("/usage"));
      showProblem("");
      if (!state.events || state.events.readyState !== 1) setLive("polling", "polling every 60 s");
    } catch (err) {
      if (err instanceof NeedsAuth) { signedOut(); return; }
      setLive("offline", "daemon unreachable");
      showProblem("codexbard did not answer: " + err.message + ". Retrying every 60 s.");
    }
  }

  function connectEvents() {
    if (state.events) state.events.close();
    if (!window.EventSource) { setLive("polling", "polling every 60 s"); startPolling(); return; }
    const source = new EventSource("/events");
    state.events = source;
    source.addEventListener("open", () => {
      setLive("live", "live");
      showProblem("");
      stopPolling();
    });
    source.addEventListener("usage", (event) => {
      try { upsert(JSON.parse(event.data)); } catch (ignored) { /* a malformed event is skipped */ }
    });
    source.addEventListener("status", (event) => {
      try { applyStatus(JSON.parse(event.data)); } catch (ignored) { /* a malformed event is skipped */ }
    });
    source.addEventListener("error", () => {
      if (state.events !== source) return;
      if (source.readyState === 2) {  // CLOSED: no /events here, or it refused us: poll instead
        state.events = null;
        setLive("polling", "polling every 60 s");
        pollUsage();
      } else {
        setLive("polling", "reconnecting; polling meanwhile");
      }
      startPolling();
    });
  }

  // ---- sign-in ----------------------------------------------------------------------------------------------

  function signedOut() {
    if (state.events) { state.events.close(); state.events = null; }
    stopPolling();
    state.signedOut = true;
    setLive("signed-out", "sign-in needed");
    byId("auth").hidden = false;
    byId("token").focus();
  }

  async function signIn(event) {
    event.preventDefault();
    const input = byId("token");
    const error = byId("auth-error");
    const token = input.value;
    input.value = "";
    error.hidden = true;
    let response;
    try {
      response = await fetch("/auth", { method: "POST", credentials: "same-origin",
                                        headers: { "content-type": "application/json" },
                                        body: JSON.stringify({ token }) });
    } catch (err) {
      error.textContent = "codexbard did not answer: " + err.message;
      error.hidden = false;
      return;
    }
    if (!response.ok) {
      let message = response.status === 401 ? "That token is not right." : "Sign-in failed (HTTP " + response.status + ").";
      if (response.status !== 401) {
        try { message = (await response.json()).error || message; } catch (ignored) { /* not JSON */ }
      }
      error.textContent = message;
      error.hidden = false;
      input.focus();
      return;
    }
    byId("auth").hidden = true;
    state.signedOut = false;
    start();
  }

  // ---- start ------------------------------------------------------------------------------------------------

  async function start() {
    setLive("connecting", "connecting");
    try {
      const list = await getJSON("/usage");
      byId("auth").hidden = true;
      showProblem("");
      replaceAll(list);
    } catch (err) {
      if (err instanceof NeedsAuth) { signedOut(); return; }
      setLive("offline", "daemon unreachable");
      showProblem("codexbard did not answer: " + err.message + ". Retrying every 60 s.");
      startPolling();
      return;
    }
    connectEvents();
  }

  function selectRange(range) {
    if (!RANGES[range] || range === state.range) return;
    state.range = range;
    for (const button of document.querySelectorAll(".range button")) {
      button.setAttribute("aria-pressed", String(button.dataset.range === range));
    }
    for (const key of state.order) {
      const p = state.payloads.get(key);
      if (!p) continue;
      for (const win of windowsOf(p)) { drawChart(key, win.id); loadHistory(p, win.id); }
    }
  }

  byId("auth-form").addEventListener("submit", signIn);
  for (const button of document.querySelectorAll(".range button")) {
    button.addEventListener("click", () => selectRange(button.dataset.range));
  }
  setInterval(tick, TICK_MS);
  let resizeTimer = null;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(redrawCharts, 150);
  });
  start();
})();
