// The dashboard's Faust tables panel: a leaderboard, games per route and per-route rate charts,
// from /api/tables (every partition's owner asked, each partition counted once).
// Wrapped in a function so that its names never clash with app.js's top-level ones.
(() => {
  "use strict";

  const POLL_MS = 2000; // the workers announce every 2 s; the live window steps every 2 s
  const LIVE_WINDOW_S = 10; // route_rate_live: hopping 10 s windows, 2 s step
  const LIVE_POINTS = 30; // one minute of windows
  const MINUTE_POINTS = 10;
  const COLORS = { kafka: "#2b6cb0", rabbitmq: "#e8336d" };
  const $ = (id) => document.getElementById(id);
  const fmt = new Intl.NumberFormat("en-US");
  const clock = (ms) => new Date(ms).toLocaleTimeString();
  const charts = {};

  function chart(id, type, stacked, legend = true) {
    if (!window.Chart || !$(id)) return null; // the tables still show without the chart library
    const axis = { beginAtZero: true, stacked };
    return new window.Chart($(id), {
      type,
      data: { labels: [], datasets: [] },
      options: {
        animation: false,
        maintainAspectRatio: false,
        plugins: { legend: { display: legend } },
        scales: { x: { stacked }, y: axis },
      },
    });
  }

  function dataset(route, data) {
    const color = COLORS[route] || "#38a169";
    return { label: route, data, borderColor: color, backgroundColor: color };
  }

  function setSeries(target, labels, series) {
    if (!target) return;
    target.data.labels = labels;
    target.data.datasets = series;
    target.update();
  }

  // Window starts (seconds) of every route, ascending, the last `count` of those `keep` admits.
  function starts(byRoute, keep, count) {
    const all = new Set();
    Object.values(byRoute).forEach((windows) => Object.keys(windows).forEach((s) => all.add(Number(s))));
    return [...all].filter(keep).sort((a, b) => a - b).slice(-count);
  }

  function showLive(live, asOfMs) {
    // Only windows that have closed: the newest ones are still filling and would dip.
    const closed = starts(live, (s) => (s + LIVE_WINDOW_S) * 1000 <= asOfMs, LIVE_POINTS);
    const series = Object.keys(live).sort().map((route) =>
      dataset(route, closed.map((s) => (live[route][String(s)] || 0) / LIVE_WINDOW_S)));
    setSeries(charts.live, closed.map((s) => clock((s + LIVE_WINDOW_S) * 1000)), series);
  }

  function showMinutes(minutes) {
    const shown = starts(minutes, () => true, MINUTE_POINTS);
    const series = Object.keys(minutes).sort().map((route) =>
      dataset(route, shown.map((s) => minutes[route][String(s)] || 0)));
    setSeries(charts.minute, shown.map((s) => clock(s * 1000).slice(0, -3)), series);
  }

  function showLeaderboard(players) {
    const body = $("faust-top").tBodies[0];
    body.replaceChildren();
    players.forEach((p, i) => {
      const row = body.insertRow();
      [i + 1, p.player, fmt.format(p.wins)].forEach((text) => { row.insertCell().textContent = text; });
    });
  }

  function showRoutes(routes) {
    const names = Object.keys(routes).sort();
    const body = $("faust-routes").tBodies[0];
    body.replaceChildren();
    names.forEach((route) => {
      const row = body.insertRow();
      row.insertCell().textContent = route;
      row.insertCell().textContent = fmt.format(routes[route]);
    });
    setSeries(charts.routes, names, [{ data: names.map((r) => routes[r]), backgroundColor: names.map((r) => COLORS[r]) }]);
  }

  function coverageText(answer) {
    const ok = answer.workers.filter((w) => w.ok);
    const owners = ok.map((w) => `${w.url} → ${w.partitions.join(",") || "none"}`).join("; ");
    const c = answer.coverage;
    const gaps = [];
    if (c.missing.length) gaps.push(`partitions ${c.missing.join(",")} not counted yet (rebalance?)`);
    if (c.dropped.length) gaps.push(`partitions ${c.dropped.join(",")} claimed twice: older answer left out`);
    if (c.contested.length) gaps.push(`newest owner taken for partitions ${c.contested.map((x) => x.partition).join(",")}`);
    const silent = answer.workers.filter((w) => !w.ok).map((w) => w.url);
    if (silent.length) gaps.push(`silent: ${silent.join(", ")}`);
    return `${ok.length} worker(s): ${owners}` + (gaps.length ? ` — ${gaps.join("; ")}` : " — every partition counted once");
  }

  function freshText(f) {
    return `as of ${clock(f.as_of_ms)}` + (f.lag_ms == null ? "" : `, lag ${fmt.format(f.lag_ms)} ms`);
  }

  async function refresh() {
    const response = await fetch("/api/tables", { headers: apiHeaders() }); // app.js
    const answer = await response.json();
    if (!response.ok) throw new Error(`Faust tables: ${response.status} ${answer.detail || ""}`);
    showLeaderboard(answer.top_players);
    showRoutes(answer.tables.route_counts);
    showLive(answer.tables.route_rate_live, answer.freshness.as_of_ms);
    showMinutes(answer.tables.route_rate_minute);
    $("faust-events").textContent = fmt.format(answer.events);
    $("fresh-faust").textContent = freshText(answer.freshness);
    $("workers").textContent = coverageText(answer);
    $("workers").className = answer.coverage.complete ? "muted" : "warn";
  }

  function tick() {
    refresh().catch((error) => {
      $("workers").textContent = String(error.message || error);
      $("workers").className = "warn";
    });
  }

  function start() {
    if (!$("tables")) return;
    charts.routes = chart("chart-faust-routes", "bar", false, false);
    charts.live = chart("chart-faust-live", "line", false);
    charts.minute = chart("chart-faust-minute", "bar", true);
    tick();
    setInterval(tick, POLL_MS);
  }

  document.addEventListener("DOMContentLoaded", start);
})();
