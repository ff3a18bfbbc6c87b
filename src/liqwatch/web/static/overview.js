// Overview: window totals with coverage, the liquidation chart, live feed with filters, largest liquidations, venues
// and coins.
"use strict";
(() => {
  const { config, usd, pct, signedPct, signedPctPoints, num, time, el, row, fill, json, query } = LW;
  const windows = config.windows || ["1h", "4h", "12h", "24h"];
  const pinned = config.at !== null && config.at !== undefined;
  const at = pinned ? String(config.at) : null;
  const FEED_ROWS = 200;
  const feedBody = document.querySelector("#feed tbody");
  const venuesSeen = new Set();

  function card(label, s) {
    const c = el("section", null, "card");
    c.dataset.window = label;
    c.appendChild(el("h3", label));
    const total = el("div", usd(s.total_usd), "total");
    total.dataset.usd = String(s.total_usd);
    c.appendChild(total);
    const longs = el("div", "longs " + usd(s.long_usd), "longs");
    longs.dataset.usd = String(s.long_usd);
    const shorts = el("div", "shorts " + usd(s.short_usd), "shorts");
    shorts.dataset.usd = String(s.short_usd);
    const share = el("div", s.long_share === null ? "no liquidations" : pct(s.long_share, 0) + " longs", "share");
    share.dataset.value = String(s.long_share);
    const count = el("div", s.count.toLocaleString("en-US") + (s.count === 1 ? " event" : " events"), "count");
    count.dataset.value = String(s.count);
    c.append(longs, shorts, share, count);
    const badges = el("div", null, "badges");
    for (const v of s.coverage.sampled) {
      const b = el("span", v + " sampled", "badge warn sampled");
      b.title = s.coverage.notes[v] || "publishes samples: totals are lower bounds";
      badges.appendChild(b);
    }
    for (const [v, n] of Object.entries(s.coverage.outages || {})) {
      badges.appendChild(el("span", v + " down ×" + n, "badge bad outage"));
    }
    if (!s.coverage.sampled.length && s.count) badges.appendChild(el("span", "complete", "badge ok"));
    c.appendChild(badges);
    return c;
  }

  let shownTotals = null;
  function renderTotals(fresh) {
    // a live push carries the standard windows; a longer window asked for in the URL keeps its last value
    const data = shownTotals ? { ...fresh, windows: { ...shownTotals.windows, ...fresh.windows } } : fresh;
    shownTotals = data;
    const box = document.getElementById("totals");
    box.replaceChildren(...windows.filter((w) => data.windows[w]).map((w) => card(w, data.windows[w])));
    box.dataset.at = String(data.at_ns);
    const day = data.windows["24h"] || data.windows[windows[windows.length - 1]];
    fill(document.querySelector("#by-venue tbody"), Object.entries(day.by_venue).map(([v, b]) =>
      row([v, { text: usd(b.total_usd), cls: "num", value: b.total_usd }, { text: usd(b.long_usd), cls: "num long" },
           { text: usd(b.short_usd), cls: "num short" }, { text: pct(b.long_share, 0), cls: "num" },
           { text: b.count.toLocaleString("en-US"), cls: "num" }])));
    for (const v of Object.keys(day.by_venue)) addVenue(v);
  }

  function addVenue(v) {
    if (venuesSeen.has(v)) return;
    venuesSeen.add(v);
    const o = el("option", v);
    o.value = v;
    document.getElementById("f-venue").appendChild(o);
  }

  function filters() {
    return {
      coin: document.getElementById("f-coin").value.trim().toUpperCase(),
      venue: document.getElementById("f-venue").value,
      min: Number(document.getElementById("f-min").value) || 0,
    };
  }
  function passes(e, f) {
    return (!f.coin || e.coin === f.coin) && (!f.venue || e.venue === f.venue) && e.usd >= f.min;
  }
  function feedRow(e) {
    const tr = row([time(e.ts_event), e.venue, e.symbol, { text: e.side, cls: e.side },
                    { text: num(e.price), cls: "num" }, { text: usd(e.usd), cls: "num", value: e.usd }]);
    tr.className = e.side + (e.usd >= config.big_usd ? " big" : "");
    tr.dataset.coin = e.coin;
    tr.dataset.venue = e.venue;
    tr.dataset.usd = String(e.usd);
    return tr;
  }
  let feedEvents = []; // newest first, unfiltered, so changing a filter re-renders from memory
  function renderFeed() {
    const f = filters();
    fill(feedBody, feedEvents.filter((e) => passes(e, f)).slice(0, FEED_ROWS).map(feedRow));
  }
  function addLive(data) {
    const f = filters();
    const fresh = data.events.slice().reverse();
    feedEvents = fresh.concat(feedEvents).slice(0, 2000);
    const rows = fresh.filter((e) => passes(e, f)).slice(0, FEED_ROWS).map(feedRow);
    feedBody.prepend(...rows);
    while (feedBody.rows.length > FEED_ROWS) feedBody.deleteRow(-1);
    for (const e of fresh) addVenue(e.venue);
    const big = fresh.find((e) => e.usd >= config.big_usd && passes(e, f));
    if (big) LW.alertBig(big);
  }
  for (const id of ["f-coin", "f-venue", "f-min"]) document.getElementById(id).addEventListener("input", renderFeed);

  // Query parameters (an alert's link: ?coin=BTC or ?venue=okx, &min_usd=) pre-fill the feed's filters.
  const preset = config.filter || {};
  function applyPreset() {
    const parts = [];
    if (preset.coin) { document.getElementById("f-coin").value = preset.coin; parts.push("coin " + preset.coin); }
    if (preset.venue) { addVenue(preset.venue); document.getElementById("f-venue").value = preset.venue; parts.push("venue " + preset.venue); }
    if (preset.min_usd) { document.getElementById("f-min").value = String(preset.min_usd); parts.push("≥ " + usd(preset.min_usd)); }
    if (parts.length) {
      document.getElementById("filtered-by").textContent = parts.join(", ");
      document.getElementById("filtered").hidden = false;
    }
  }

  function link(text, href) {
    const a = el("a", text);
    a.href = href;
    return a;
  }
  async function loadAlerts() {
    const rows = await json("/api/alerts" + query({ window: "7d", until: at, coin: preset.coin, venue: preset.venue, limit: 20 }));
    fill(document.querySelector("#alerts tbody"), rows.map((a) => {
      const tr = row([a.ts.slice(5, 16).replace("T", " "), "", "", a.destinations ? { text: a.delivered + "/" + a.destinations, cls: "num" } : { text: "–", cls: "num", title: "no destinations configured: shown here only" }]);
      tr.cells[1].appendChild(link(a.title, a.view));
      tr.cells[1].title = a.body;
      tr.cells[2].appendChild(a.coin_page ? link(a.subject, a.coin_page) : el("span", a.subject));
      tr.dataset.alert = a.alert_id;
      tr.dataset.subject = a.subject;
      if (a.alert_id === config.alert) tr.classList.add("selected");
      return tr;
    }));
    document.getElementById("alerts-empty").hidden = rows.length > 0;
  }

  function toLive(r) {
    return { venue: r.venue, symbol: r.symbol, coin: r.coin, side: r.position_side, price: r.price, usd: r.notional_usd,
             ts_event: r.ts_event };
  }
  async function loadTop() {
    const top = await json("/api/top" + query({ window: "24h", at, limit: 10, coin: preset.coin }));
    fill(document.querySelector("#top tbody"), top.map((r) => {
      const tr = row([r.ts.slice(5, 19).replace("T", " "), r.venue, r.symbol, { text: r.position_side, cls: r.position_side },
                      { text: usd(r.notional_usd), cls: "num", value: r.notional_usd }]);
      tr.className = r.position_side + (r.notional_usd >= config.big_usd ? " big" : "");
      return tr;
    }));
  }
  async function loadCoins() {
    const data = await json("/api/coins" + query({ at }));
    fill(document.querySelector("#coins tbody"), data.coins.map((c) => {
      const link = el("a", c.coin);
      link.href = "/coin/" + encodeURIComponent(c.coin) + (at ? "?at=" + at : "");
      const first = document.createElement("td");
      first.appendChild(link);
      const price = { text: num(c.price), cls: "num price", value: c.price };
      const tr = row([price, { text: signedPctPoints(c.change_24h_pct), cls: "num change", value: c.change_24h_pct },
                      { text: signedPctPoints(c.drawdown_pct), cls: "num drawdown", value: c.drawdown_pct },
                      { text: usd(c.long_usd), cls: "num long", value: c.long_usd },
                      { text: usd(c.short_usd), cls: "num short", value: c.short_usd },
                      { text: usd(c.oi_usd), cls: "num" }, { text: signedPct(c.oi_usd_change_24h), cls: "num" },
                      { text: num(c.oi_coin, 5), cls: "num" }, { text: signedPct(c.oi_coin_change_24h), cls: "num" },
                      { text: c.funding_apr === null ? "–" : pct(c.funding_apr, 1), cls: "num" }]);
      tr.prepend(first);
      tr.cells[1].title = c.price_source ? c.price_source + " 1m close at " + c.price_ts : "no candles stored";
      tr.cells[3].title = c.ath === null ? "" : "ATH " + num(c.ath);
      tr.dataset.coin = c.coin;
      return tr;
    }));
  }


  // Liquidation chart: longs and shorts per interval, stacked, over the selected window, for the coin filter (or all).
  // The bars come from /api/liquidation-series (they add up to the window's card); live liquidations newer than the
  // loaded series are added to their bar at once, and the series is re-read from the store shortly after.
  const LONG = "#d0453b", SHORT = "#2e9d5b";
  const chartBox = document.getElementById("liq-chart");
  let chartWindow = windows.includes("24h") ? "24h" : windows[windows.length - 1];
  let series = null;
  let loadedUntil = 0;
  let plotly = null;
  function loadPlotly() {
    plotly = plotly || new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = "/vendor/plotly.min.js";
      script.onload = resolve;
      script.onerror = () => reject(new Error("plotly.min.js did not load"));
      document.head.appendChild(script);
    });
    return plotly;
  }
  const chartCoin = () => document.getElementById("f-coin").value.trim().toUpperCase();
  function windowLinks() {
    const box = document.getElementById("chart-windows");
    box.replaceChildren(...windows.map((w) => {
      const a = el("a", w, w === chartWindow ? "active" : "");
      a.dataset.window = w;
      a.addEventListener("click", () => { chartWindow = w; windowLinks(); loadChart(); });
      return a;
    }));
  }
  async function loadChart() {
    const coin = chartCoin();
    const data = await json("/api/liquidation-series" + query({ window: chartWindow, at, coin }));
    if (coin !== chartCoin()) return; // the filter changed while this was loading; its own load follows
    series = data;
    loadedUntil = data.until_ns;
    await drawChart();
  }
  async function drawChart() {
    await loadPlotly();
    const bars = series.bars;
    const width = series.interval_s * 1000;
    const x = bars.map((b) => new Date(b.ts_ns / 1e6).toISOString());
    const bar = (name, key, color) => ({
      type: "bar", name, x, y: bars.map((b) => b[key]), offset: 0, width, marker: { color },
      hovertemplate: "%{x|%H:%M} %{y:$,.0f}<extra>" + name + "</extra>",
    });
    const layout = {
      barmode: "stack", height: 300, margin: { l: 60, r: 20, t: 10, b: 30 }, showlegend: true,
      legend: { orientation: "h", y: 1.12 }, paper_bgcolor: "#11151c", plot_bgcolor: "#11151c", font: { color: "#cfd6e4" },
      xaxis: { type: "date", range: [new Date(series.since_ns / 1e6).toISOString(), new Date(series.until_ns / 1e6).toISOString()] },
      yaxis: { title: "liquidated USD", tickformat: "$.3s", rangemode: "tozero" },
    };
    await Plotly.react(chartBox, [bar("longs", "long_usd", LONG), bar("shorts", "short_usd", SHORT)], layout,
                       { displaylogo: false, responsive: true });
    const sum = (key) => bars.reduce((a, b) => a + b[key], 0);
    const last = bars.length ? bars[bars.length - 1] : null;
    Object.assign(chartBox.dataset, {
      window: chartWindow, coin: series.coin || "", interval: String(series.interval_s), bars: String(bars.length),
      long: String(sum("long_usd")), short: String(sum("short_usd")), count: String(sum("count")),
      last: last ? String(last.long_usd + last.short_usd) : "0", until: String(series.until_ns), ready: "1",
    });
    document.getElementById("chart-scope").textContent = (series.coin || "all coins") + " · " +
      (series.interval_s >= 3600 ? series.interval_s / 3600 + " h" : series.interval_s / 60 + " min") + " bars · longs " +
      usd(sum("long_usd")) + ", shorts " + usd(sum("short_usd"));
  }
  let resync = null;
  let redraw = false;
  function addToChart(events) {
    if (!series) return;
    const coin = chartCoin();
    const step = series.interval_s * 1e9;
    for (const e of events) {
      // only what the loaded series cannot hold yet: newer than its end (the store's copy arrives with the resync)
      if ((coin && e.coin !== coin) || e.ts_event <= loadedUntil) continue;
      const start = Math.floor(e.ts_event / step) * step;
      let b = series.bars.find((x) => x.ts_ns === start);
      if (!b) {
        b = { ts_ns: start, long_usd: 0, short_usd: 0, count: 0 };
        series.bars.push(b);
        series.bars.sort((p, q) => p.ts_ns - q.ts_ns);
      }
      b[e.side === "long" ? "long_usd" : "short_usd"] += e.usd;
      b.count += 1;
      series.until_ns = Math.max(series.until_ns, e.ts_event);
      redraw = true;
    }
    // re-read from the store 3 s after the first unsynced addition (at most every 3 s while a cascade goes on)
    if (redraw && resync === null) resync = setTimeout(() => { resync = null; loadChart().catch(() => {}); }, 3000);
  }
  setInterval(() => { if (redraw && series) { redraw = false; drawChart(); } }, 500);
  let coinTimer = null;
  document.getElementById("f-coin").addEventListener("input", () => {
    clearTimeout(coinTimer);
    coinTimer = setTimeout(() => loadChart().catch(() => {}), 300);
  });

  async function main() {
    document.getElementById("mode").textContent = pinned
      ? "History view at " + new Date(Number(at) / 1e6).toISOString() + " (not live)" : "";
    if (pinned) {
      document.getElementById("feed-title").textContent = "Liquidations up to " + new Date(Number(at) / 1e6).toISOString().slice(0, 16).replace("T", " ");
      LW.historyBadge(at);
    }
    renderTotals(await json("/api/overview" + query({ at, windows: windows.join(",") })));
    const recent = await json("/api/liquidations" + query({ window: "24h", until: at, limit: FEED_ROWS, coin: preset.coin,
                                                            venue: preset.venue, min_usd: preset.min_usd }));
    feedEvents = recent.map(toLive);
    for (const e of feedEvents) addVenue(e.venue);
    applyPreset();
    renderFeed();
    windowLinks();
    await Promise.all([loadTop(), loadCoins(), loadAlerts(), loadChart()]);
    document.body.dataset.ready = "1";
    if (pinned) return;
    let topDue = 0;
    LW.live({ liquidations: (data) => { addLive(data); addToChart(data.events); }, totals: (data) => {
      renderTotals(data);
      if (Date.now() > topDue) { topDue = Date.now() + 5000; loadTop(); }
    } });
    setInterval(() => { loadTop(); loadCoins(); loadAlerts(); loadChart(); }, 30000);
  }
  main().catch((err) => {
    document.getElementById("mode").textContent = "Could not load: " + err.message;
    document.body.dataset.ready = "error";
  });
})();
