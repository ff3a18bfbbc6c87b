// Coin page: candles of the reference market, liquidation bars (longs below, shorts above), OI on a second axis,
// the heatmap behind the candles, the current liquidation map beside them and the configured levels and zones on them.
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

  const LONG = "#d0453b", SHORT = "#2e9d5b", LEVEL = "#f0b429", MAP_X = 0.84; // the map takes the right 16 %

  // Price range shown: the candles, padded, widened to configured levels within 15 % of the last close.
  function priceRange(d) {
    if (!d.candles.length) return null;
    let lo = Math.min(...d.candles.map((c) => c.low)), hi = Math.max(...d.candles.map((c) => c.high));
    const last = d.candles[d.candles.length - 1].close;
    for (const p of [...d.levels.levels, ...d.levels.zones.flat()]) {
      if (Math.abs(p / last - 1) <= 0.15) { lo = Math.min(lo, p); hi = Math.max(hi, p); }
    }
    const pad = (hi - lo) * 0.06 || hi * 0.01;
    return [lo - pad, hi + pad];
  }

  const LABEL = { xref: "x domain", x: 1, xanchor: "right", yref: "y", yanchor: "bottom", showarrow: false,
                  font: { color: LEVEL, size: 11 }, bgcolor: "rgba(17,21,28,0.8)" };

  // Configured levels as dashed lines and zones as bands across the time axis, each labelled.
  function levelShapes(levels) {
    const shapes = [], notes = [];
    for (const p of levels.levels) {
      shapes.push({ type: "line", name: "level " + p, xref: "x domain", x0: 0, x1: 1, yref: "y", y0: p, y1: p,
                    line: { color: LEVEL, width: 1, dash: "dash" } });
      notes.push({ ...LABEL, y: p, text: "level " + LW.num(p) });
    }
    for (const [lo, hi] of levels.zones) {
      shapes.push({ type: "rect", name: "zone " + lo + "-" + hi, xref: "x domain", x0: 0, x1: 1, yref: "y", y0: lo, y1: hi,
                    fillcolor: LEVEL, opacity: 0.12, line: { width: 0 } });
      notes.push({ ...LABEL, y: (lo + hi) / 2, yanchor: "middle", text: "zone " + LW.num(lo) + "–" + LW.num(hi) });
    }
    return { shapes, notes };
  }

  // The current liquidation map (liqwatch map): modelled USD per price bucket, longs and shorts, beside the candles.
  function mapTraces(current) {
    if (!current || current.empty || !current.buckets.length) return [];
    const longs = current.buckets.filter((b) => b.long_usd > 0), shorts = current.buckets.filter((b) => b.short_usd > 0);
    const common = { type: "bar", orientation: "h", xaxis: "x4", yaxis: "y", width: current.bucket,
                     hovertemplate: "%{y:,.0f}: %{x:$,.0f}<extra></extra>" };
    return [
      { ...common, name: "map: longs at risk", y: longs.map((b) => b.price), x: longs.map((b) => b.long_usd),
        marker: { color: LONG, opacity: 0.75 } },
      { ...common, name: "map: shorts at risk", y: shorts.map((b) => b.price), x: shorts.map((b) => b.short_usd),
        marker: { color: SHORT, opacity: 0.75 } },
    ];
  }

  function figure(d, hm) {
    const traces = [];
    const g = hm && hm.grid;
    if (g && !g.empty && g.cells.length) {
      traces.push({ type: "heatmap", name: "liquidation heatmap", x: g.cells.map((c) => g.x_axis[c[0]]),
                    y: g.cells.map((c) => g.y_axis[c[1]]), z: g.cells.map((c) => c[2]), colorscale: "Viridis",
                    showscale: true, opacity: 0.6, xaxis: "x", yaxis: "y", hovertemplate: "%{y}: %{z:$,.0f}<extra></extra>",
                    colorbar: { orientation: "h", x: 0, xanchor: "left", y: 1.0, yanchor: "bottom", len: 0.3, thickness: 8,
                                tickformat: "$.2s", title: { text: "heatmap (modelled USD)", side: "top", font: { size: 11 } } } });
    }
    if (d.candles.length) {
      traces.push({ type: "candlestick", name: "price", x: d.candles.map(iso), open: d.candles.map((c) => c.open),
                    high: d.candles.map((c) => c.high), low: d.candles.map((c) => c.low), close: d.candles.map((c) => c.close),
                    xaxis: "x", yaxis: "y" });
    }
    traces.push({ type: "bar", name: "shorts liquidated", x: d.liquidations.map(iso), y: d.liquidations.map((b) => b.short_usd),
                  marker: { color: SHORT }, xaxis: "x", yaxis: "y3" });
    traces.push({ type: "bar", name: "longs liquidated", x: d.liquidations.map(iso), y: d.liquidations.map((b) => -b.long_usd),
                  marker: { color: LONG }, xaxis: "x", yaxis: "y3" });
    if (d.open_interest.length) {
      traces.push({ type: "scatter", mode: "lines", name: "open interest (" + coin + ")", x: d.open_interest.map(iso),
                    y: d.open_interest.map((p) => p.oi_coin), line: { color: "#7a5cff" }, xaxis: "x", yaxis: "y2" });
    }
    for (const s of d.signals || []) {
      traces.push({ type: "scatter", mode: "markers", name: "signal: " + s.kind, x: [s.ts || new Date(s.ts_event / 1e6).toISOString()],
                    y: [0], text: [s.message], hoverinfo: "text", showlegend: false, xaxis: "x", yaxis: "y3",
                    marker: { symbol: s.direction === "bullish" ? "triangle-up" : "triangle-down", size: 12, color: LEVEL } });
    }
    const map = mapTraces(hm && hm.current);
    traces.push(...map);
    const { shapes, notes } = levelShapes(d.levels);
    const range = priceRange(d);
    const layout = {
      margin: { l: 60, r: 20, t: g && !g.empty && g.cells.length ? 50 : 10, b: 30 }, height: 620, barmode: "relative", showlegend: true,
      legend: { orientation: "h", y: -0.08 }, paper_bgcolor: "#11151c", plot_bgcolor: "#11151c", font: { color: "#cfd6e4" },
      xaxis: { rangeslider: { visible: false }, type: "date", anchor: "y3", domain: [0, map.length ? MAP_X - 0.07 : 0.93] },
      yaxis: { domain: [0.35, 1], title: "price", ...(range ? { range, autorange: false } : {}) },
      yaxis2: { overlaying: "y", side: "right", anchor: "x", title: "OI (" + coin + ")", showgrid: false, tickformat: ".3~s" },
      yaxis3: { domain: [0, 0.3], title: "liquidated USD" },
      shapes, annotations: notes,
    };
    if (map.length) {
      layout.xaxis4 = { domain: [MAP_X, 1], anchor: "y", title: { text: "map (USD)", font: { size: 11 } }, showgrid: false,
                        tickformat: "$.2s", nticks: 3 };
    }
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
      if (hm.current.empty) notes.push("map: " + (hm.current.reason || "no modelled levels at the window's end"));
      else notes.push("map at " + hm.current.at + " from " + hm.current.reference + ", price " + LW.num(hm.current.price));
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
    if (at) { LW.historyBadge(at); return; }
    let due = false;
    LW.live({ liquidations: (data) => { if (data.events.some((e) => e.coin === coin)) due = true; } });
    setInterval(() => { if (due) { due = false; draw(); } }, 3000);
  };
  document.head.appendChild(script);
})();
