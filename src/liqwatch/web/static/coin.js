// Coin page: candles of the reference market, liquidation bars (longs below, shorts above), OI on a second axis.
"use strict";
(() => {
  const { config, json, query, el } = LW;
  const coin = config.coin;
  const at = config.at === null || config.at === undefined ? null : String(config.at);
  document.getElementById("coin-title").textContent = coin;
  const intervals = document.getElementById("intervals");
  for (const iv of ["1m", "5m", "15m", "1h", "4h", "1d"]) {
    const a = el("a", iv, iv === config.interval ? "active" : "");
    a.href = "?" + new URLSearchParams({ interval: iv, window: config.window, ...(at ? { at } : {}) }).toString();
    intervals.appendChild(a);
  }
  const iso = (r) => r.ts;

  function figure(d, hm) {
    const traces = [];
    const g = hm && hm.grid;
    if (g && !g.empty && g.cells.length) {
      traces.push({ type: "heatmap", name: "liquidation heatmap", x: g.cells.map((c) => g.x_axis[c[0]]),
                    y: g.cells.map((c) => g.y_axis[c[1]]), z: g.cells.map((c) => c[2]), colorscale: "Viridis",
                    showscale: false, opacity: 0.6, xaxis: "x", yaxis: "y", hovertemplate: "%{y}: %{z:$,.0f}<extra></extra>" });
    }
    if (d.candles.length) {
      traces.push({ type: "candlestick", name: "price", x: d.candles.map(iso), open: d.candles.map((c) => c.open),
                    high: d.candles.map((c) => c.high), low: d.candles.map((c) => c.low), close: d.candles.map((c) => c.close),
                    xaxis: "x", yaxis: "y" });
    }
    traces.push({ type: "bar", name: "shorts liquidated", x: d.liquidations.map(iso), y: d.liquidations.map((b) => b.short_usd),
                  marker: { color: "#2e9d5b" }, xaxis: "x", yaxis: "y3" });
    traces.push({ type: "bar", name: "longs liquidated", x: d.liquidations.map(iso), y: d.liquidations.map((b) => -b.long_usd),
                  marker: { color: "#d0453b" }, xaxis: "x", yaxis: "y3" });
    if (d.open_interest.length) {
      traces.push({ type: "scatter", mode: "lines", name: "open interest (" + coin + ")", x: d.open_interest.map(iso),
                    y: d.open_interest.map((p) => p.oi_coin), line: { color: "#7a5cff" }, xaxis: "x", yaxis: "y2" });
    }
    for (const s of d.signals || []) {
      traces.push({ type: "scatter", mode: "markers", name: "signal: " + s.kind, x: [s.ts || new Date(s.ts_event / 1e6).toISOString()],
                    y: [0], text: [s.message], hoverinfo: "text", showlegend: false, xaxis: "x", yaxis: "y3",
                    marker: { symbol: s.direction === "bullish" ? "triangle-up" : "triangle-down", size: 12, color: "#f0b429" } });
    }
    const layout = {
      margin: { l: 60, r: 60, t: 10, b: 30 }, height: 620, barmode: "relative", showlegend: true,
      legend: { orientation: "h" }, paper_bgcolor: "#11151c", plot_bgcolor: "#11151c", font: { color: "#cfd6e4" },
      xaxis: { rangeslider: { visible: false }, type: "date" },
      yaxis: { domain: [0.35, 1], title: "price" },
      yaxis2: { overlaying: "y", side: "right", title: "OI", showgrid: false },
      yaxis3: { domain: [0, 0.3], title: "liquidated USD" },
    };
    return { traces, layout };
  }

  async function draw() {
    const d = await json("/api/candles" + query({ coin, interval: config.interval, window: config.window, at }));
    const m = d.market ? d.market.venue + " " + d.market.symbol : "no candles stored for " + coin;
    document.getElementById("market").textContent = m;
    const notes = [];
    let hm = null;
    try {
      hm = await json("/api/heatmap" + query({ coin, window: config.window, at }));
      if (hm.grid.empty) notes.push("heatmap: " + (hm.grid.reason || "no modelled levels in the window"));
    } catch (err) {
      notes.push("heatmap: " + (err.status === 503 ? "not available for this store" : err.message));
    }
    const { traces, layout } = figure(d, hm);
    await Plotly.react("chart", traces, layout, { displaylogo: false, responsive: true });
    document.getElementById("chart-notes").textContent = notes.join(" · ");
    document.body.dataset.ready = "1";
  }

  const script = document.createElement("script");
  script.src = "/vendor/plotly.min.js";
  script.onload = () => {
    draw().catch((err) => {
      document.getElementById("chart-notes").textContent = "Could not load: " + err.message;
      document.body.dataset.ready = "error";
    });
    if (at) return;
    let due = false;
    LW.live({ liquidations: (data) => { if (data.events.some((e) => e.coin === coin)) due = true; } });
    setInterval(() => { if (due) { due = false; draw(); } }, 3000);
  };
  document.head.appendChild(script);
})();
