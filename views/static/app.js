// The squidstream dashboard: reads the JSON API, redraws on each server-sent snapshot.
"use strict";

const REFRESH_MIN_MS = 1500; // a flood pushes a snapshot every second; redraw at most this often
const FALLBACK_POLL_MS = 5000; // keeps the page current while the live stream reconnects
const RATE_POINTS = 60;

const $ = (id) => document.getElementById(id);
const fmt = new Intl.NumberFormat("en-US");
// The log pages by key: `after` holds the cursor of every page shown so far, the last one current.
const audit = { pageSize: 15, after: [null], next: null };
const charts = {};
let lastRefresh = 0;
let refreshTimer = null;
let liveConnected = false;

// With SQUID_READ_TOKEN set, open the dashboard as /#token=<token>. The fragment never
// leaves the browser; the token is kept for this tab and sent as a bearer on each API call.
const TOKEN_KEY = "squid-read-token";
function readToken() {
  const found = location.hash.match(/(?:^#|&)token=([^&]+)/);
  if (found) {
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(found[1]));
    history.replaceState(null, "", location.pathname + location.search);
  }
  return sessionStorage.getItem(TOKEN_KEY);
}
const readTokenValue = readToken();
function apiHeaders() {
  const headers = { Accept: "application/json" };
  if (readTokenValue) headers.Authorization = `Bearer ${readTokenValue}`;
  return headers;
}

async function getJson(path) {
  const response = await fetch(path, { headers: apiHeaders() });
  if (response.status === 404) return null;
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    throw new Error(`${path}: ${response.status} ${body.detail || ""}`);
  }
  return response.json();
}

function cell(row, text, cls) {
  const td = row.insertCell();
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

function fillRows(tableId, items, columns) {
  const body = $(tableId).tBodies[0];
  body.replaceChildren();
  items.forEach((item, index) => {
    const row = body.insertRow();
    columns.forEach(([get, cls]) => cell(row, get(item, index), cls));
  });
}

const clock = (ms) => new Date(ms).toLocaleTimeString();
const gameLabel = (g) => `${g.game_id} ${g.game_name}`;
const freshText = (f) => `as of ${clock(f.as_of_ms)}` + (f.lag_ms == null ? "" : `, lag ${fmt.format(f.lag_ms)} ms`);
const gameColumns = [[gameLabel], [(g) => g.players], [(g) => g.winner], [(g) => g.route], [(g) => clock(g.occurred_at_ms)]];

function showError(error) {
  $("error").textContent = error ? String(error.message || error) : "";
}

async function refreshStore(store) {
  const [top, last] = await Promise.all([
    getJson(`/api/reports/${store}/top-players`),
    getJson(`/api/reports/${store}/last-games`),
  ]);
  fillRows(`${store}-top`, top.players, [[(p, i) => i + 1], [(p) => p.player], [(p) => fmt.format(p.wins)]]);
  fillRows(`${store}-last`, last.games, gameColumns);
  $(`fresh-${store}`).textContent = freshText(top.freshness);
}

function renderPlayer(store, stats, player) {
  const box = $(`player-${store}`).querySelector(".body");
  box.replaceChildren();
  box.classList.toggle("muted", !stats);
  if (!stats) {
    box.textContent = `player ${player} has not played (404)`;
    return;
  }
  const line = document.createElement("div");
  line.className = "stats";
  for (const [label, value] of [["played", stats.played], ["won", stats.won], ["lost", stats.lost]]) {
    const span = document.createElement("span");
    span.dataset.stat = label;
    span.append(`${label} `);
    const strong = document.createElement("b");
    strong.id = `player-${store}-${label}`;
    strong.textContent = fmt.format(value);
    span.append(strong);
    line.append(span);
  }
  const table = document.createElement("table");
  const head = table.createTHead().insertRow();
  for (const title of ["result", "game", "players", "winner", "when"]) cell(head, title);
  const body = table.createTBody();
  for (const g of stats.recent) {
    const row = body.insertRow();
    cell(row, g.won ? "won" : "lost", g.won ? "won" : "lost");
    [gameLabel(g), g.players, g.winner, clock(g.occurred_at_ms)].forEach((v) => cell(row, v));
  }
  box.append(line, table);
}

async function refreshPlayer() {
  const player = Number($("player-input").value);
  if (!Number.isInteger(player) || player < 1) return;
  const answers = await Promise.all(
    ["redis", "sql"].map((store) => getJson(`/api/reports/${store}/players/${player}`)),
  );
  renderPlayer("redis", answers[0], player);
  renderPlayer("sql", answers[1], player);
}

function auditQuery() {
  const params = new URLSearchParams({ page_size: audit.pageSize });
  const after = audit.after[audit.after.length - 1];
  if (after) params.set("after", after);
  if ($("audit-game").value) params.set("game_id", $("audit-game").value);
  if ($("audit-route").value) params.set("route", $("audit-route").value);
  if ($("audit-from").value) params.set("from_ms", new Date($("audit-from").value).getTime());
  if ($("audit-to").value) params.set("to_ms", new Date($("audit-to").value).getTime());
  return params;
}

async function refreshAudit() {
  const page = await getJson(`/api/audit/log?${auditQuery()}`);
  audit.next = page.next;
  fillRows("audit-table", page.entries, [
    [(e) => clock(e.occurred_at_ms)], [gameLabel], [(e) => e.players], [(e) => e.winner],
    [(e) => e.route], [(e) => `${e.kafka_partition ?? "–"}/${e.kafka_offset ?? "–"}`], [(e) => e.event_id, "id"],
  ]);
  const last = page.next ? "" : " (oldest)";
  $("audit-page").textContent = `page ${fmt.format(audit.after.length)}${last}`;
  $("audit-prev").disabled = audit.after.length === 1;
  $("audit-next").disabled = !page.next;
  $("fresh-mongo").textContent = freshText(page.freshness);
}

function makeChart(id, type, options) {
  if (!window.Chart) return null; // the page still works without the chart library
  return new window.Chart($(id), {
    type,
    data: { labels: [], datasets: [{ data: [], backgroundColor: ["#e8336d", "#2b6cb0", "#38a169"], borderColor: "#e8336d" }] },
    options: { animation: false, maintainAspectRatio: false, plugins: { legend: { display: false } }, ...options },
  });
}

function setChart(chart, labels, values) {
  if (!chart) return;
  chart.data.labels = labels;
  chart.data.datasets[0].data = values;
  chart.update();
}

async function refreshCharts() {
  const [top, routes] = await Promise.all([getJson("/api/audit/top-games"), getJson("/api/audit/routes")]);
  setChart(charts.topGames, top.games.map(gameLabel), top.games.map((g) => g.games));
  setChart(charts.routes, routes.routes.map((r) => r.route), routes.routes.map((r) => r.inserts));
}

async function refreshAll() {
  lastRefresh = Date.now();
  const jobs = [refreshStore("redis"), refreshStore("sql"), refreshAudit(), refreshCharts(), refreshPlayer()];
  const failures = (await Promise.allSettled(jobs)).filter((r) => r.status === "rejected");
  showError(failures.length ? failures[0].reason : null);
}

function scheduleRefresh() {
  if (refreshTimer) return;
  const wait = Math.max(0, REFRESH_MIN_MS - (Date.now() - lastRefresh));
  refreshTimer = setTimeout(() => { refreshTimer = null; refreshAll(); }, wait);
}

function showSnapshot(snapshot) {
  for (const store of ["redis", "sql", "mongo"]) {
    const value = snapshot.events[store];
    $(`total-${store}`).textContent = value == null ? "down" : fmt.format(value);
  }
  $("events-per-s").textContent = fmt.format(snapshot.events_per_s);
  $("lag").textContent = ["redis", "sql", "mongo"].map((s) => snapshot.lag_ms[s] ?? "–").join(" / ");
  const rate = charts.rate;
  if (rate) {
    rate.data.labels.push(clock(snapshot.as_of_ms));
    rate.data.datasets[0].data.push(snapshot.events_per_s);
    if (rate.data.labels.length > RATE_POINTS) { rate.data.labels.shift(); rate.data.datasets[0].data.shift(); }
    rate.update();
  }
  scheduleRefresh();
}

function setLive(on) {
  liveConnected = on;
  $("live-status").textContent = on ? "live" : "reconnecting…";
  $("live-status").className = `badge ${on ? "on" : "off"}`;
}

function connectLive() {
  // EventSource cannot send headers: with a token the page polls /api/live/latest instead.
  if (readTokenValue) {
    liveConnected = true; // this poll stands in for the stream and for the fallback poll
    $("live-status").textContent = "polling";
    const poll = () => getJson("/api/live/latest").then((s) => s && showSnapshot(s)).catch(showError);
    setInterval(poll, REFRESH_MIN_MS);
    return;
  }
  const source = new EventSource("/api/live");
  source.onopen = () => setLive(true);
  source.onerror = () => setLive(false); // EventSource reconnects by itself
  source.addEventListener("snapshot", (event) => showSnapshot(JSON.parse(event.data)));
}

function wireForms() {
  $("player-form").addEventListener("submit", (event) => {
    event.preventDefault();
    refreshPlayer().catch(showError);
  });
  $("audit-form").addEventListener("submit", (event) => {
    event.preventDefault();
    audit.after = [null];
    refreshAudit().catch(showError);
  });
  $("audit-prev").addEventListener("click", () => {
    if (audit.after.length > 1) audit.after.pop();
    refreshAudit().catch(showError);
  });
  $("audit-next").addEventListener("click", () => {
    if (audit.next) audit.after.push(audit.next);
    refreshAudit().catch(showError);
  });
}

function start() {
  charts.rate = makeChart("chart-rate", "line", { scales: { y: { beginAtZero: true } } });
  charts.topGames = makeChart("chart-top-games", "bar", { scales: { y: { beginAtZero: true } } });
  charts.routes = makeChart("chart-routes", "doughnut", { plugins: { legend: { display: true } } });
  wireForms();
  connectLive();
  refreshAll();
  setInterval(() => { if (!liveConnected) refreshAll(); }, FALLBACK_POLL_MS);
}

document.addEventListener("DOMContentLoaded", start);
