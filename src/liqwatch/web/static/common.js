// Shared helpers. Venue-provided strings are only ever written with textContent (never innerHTML).
"use strict";
const LW = (() => {
  const config = JSON.parse((document.getElementById("config") || {}).textContent || "{}");

  function usd(v) {
    if (v === null || v === undefined || Number.isNaN(v)) return "–";
    const a = Math.abs(v);
    const f2 = { minimumFractionDigits: 2, maximumFractionDigits: 2 };
    for (const [div, s] of [[1e9, "B"], [1e6, "M"], [1e3, "k"]]) {
      if (a >= div) return "$" + (v / div).toLocaleString("en-US", f2) + s;
    }
    return "$" + v.toLocaleString("en-US", { maximumFractionDigits: 0 });
  }
  function pct(v, digits = 1) {
    if (v === null || v === undefined) return "–";
    return (v * 100).toFixed(digits) + "%";
  }
  function signedPct(v) {
    if (v === null || v === undefined) return "–";
    return (v >= 0 ? "+" : "") + (v * 100).toFixed(2) + "%";
  }
  function signedPctPoints(v) { // a value already in percent (price_context's −5.2 means −5.2 %)
    if (v === null || v === undefined) return "–";
    return (v >= 0 ? "+" : "") + Number(v).toFixed(2) + "%";
  }
  function num(v, digits = 6) {
    if (v === null || v === undefined) return "–";
    return Number(v).toLocaleString("en-US", { maximumSignificantDigits: digits });
  }
  function time(ns) {
    return new Date(Number(ns) / 1e6).toISOString().slice(11, 19);
  }
  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  function row(cells) {
    const tr = document.createElement("tr");
    for (const c of cells) {
      const td = typeof c === "object" && c !== null ? el("td", c.text, c.cls) : el("td", c);
      if (c && c.value !== undefined) td.dataset.value = String(c.value);
      if (c && c.title) td.title = c.title;
      tr.appendChild(td);
    }
    return tr;
  }
  function fill(tbody, rows) {
    tbody.replaceChildren(...rows);
  }
  async function json(url) {
    const r = await fetch(url, { credentials: "same-origin" });
    if (!r.ok) {
      const body = await r.json().catch(() => ({}));
      const err = new Error(body.error || r.statusText);
      err.status = r.status;
      throw err;
    }
    return r.json();
  }
  function query(params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== "") q.set(k, v);
    const s = q.toString();
    return s ? "?" + s : "";
  }

  // Latency from frame receipt (ts_recv, same machine clock) to the moment an update is applied to the page.
  const latencies = [];
  function recordLatency(events) {
    const nowNs = (performance.timeOrigin + performance.now()) * 1e6;
    for (const e of events) {
      latencies.push((nowNs - e.ts_recv) / 1e6);
    }
    if (latencies.length > 100000) latencies.splice(0, latencies.length - 100000);
  }
  function percentile(values, p) {
    if (!values.length) return null;
    const s = [...values].sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
  }
  setInterval(() => {
    const p50 = percentile(latencies.slice(-2000), 50);
    document.getElementById("lag").textContent = p50 === null ? "lag –" : "lag " + p50.toFixed(0) + " ms";
  }, 1000);

  // Sound and flash for big liquidations: opt-in, remembered per browser.
  for (const id of ["sound", "flash"]) {
    const box = document.getElementById(id);
    box.checked = localStorage.getItem("liqwatch." + id) === "1";
    box.addEventListener("change", () => localStorage.setItem("liqwatch." + id, box.checked ? "1" : "0"));
  }
  let audio = null;
  function alertBig(e) {
    if (document.getElementById("flash").checked) {
      document.body.classList.remove("flash-long", "flash-short");
      void document.body.offsetWidth;
      document.body.classList.add(e.side === "long" ? "flash-long" : "flash-short");
    }
    if (document.getElementById("sound").checked) {
      try {
        audio = audio || new AudioContext();
        const o = audio.createOscillator(), g = audio.createGain();
        o.frequency.value = e.side === "long" ? 330 : 660;
        g.gain.setValueAtTime(0.15, audio.currentTime);
        g.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.25);
        o.connect(g).connect(audio.destination);
        o.start();
        o.stop(audio.currentTime + 0.25);
      } catch (_) { /* audio not allowed yet */ }
    }
  }

  // Live stream: messages are queued and applied once per animation frame, so bursts never block the page.
  function live(handlers) {
    const pending = [];
    let scheduled = false;
    const conn = document.getElementById("conn");
    conn.hidden = false;
    const source = new EventSource("/api/stream");
    function apply() {
      scheduled = false;
      const batch = pending.splice(0, pending.length);
      for (const [kind, data] of batch) {
        if (handlers[kind]) handlers[kind](data);
        if (kind === "liquidations") recordLatency(data.events);
      }
    }
    for (const kind of ["liquidations", "totals", "status"]) {
      source.addEventListener(kind, (m) => {
        pending.push([kind, JSON.parse(m.data)]);
        if (pending.length > 600) pending.splice(0, pending.length - 600); // a hidden tab keeps only the recent past
        if (!scheduled) {
          scheduled = true;
          requestAnimationFrame(apply);
        }
      });
    }
    const connected = () => { conn.textContent = "live"; conn.className = "badge ok"; conn.title = "live stream"; };
    source.addEventListener("hello", connected);
    source.onopen = () => { if (conn.textContent !== "live full") connected(); };
    source.addEventListener("refused", (m) => {
      conn.textContent = "live full"; conn.className = "badge warn"; conn.title = JSON.parse(m.data).reason;
    });
    source.onerror = () => { if (conn.textContent !== "live full") { conn.textContent = "reconnecting"; conn.className = "badge warn"; } };
    return source;
  }

  // A history view (pinned time) has no live stream: the badge says so instead of "connecting".
  function historyBadge(atNs) {
    const conn = document.getElementById("conn");
    conn.hidden = false;
    conn.textContent = "history"; conn.className = "badge"; conn.title = "a pinned time: not live (" + new Date(Number(atNs) / 1e6).toISOString() + ")";
  }

  // A page without the live stream (venues, brief) shows no stream badge rather than one that never connects.
  setTimeout(() => { const conn = document.getElementById("conn"); if (conn && conn.textContent === "connecting") conn.hidden = true; }, 0);

  return { config, historyBadge, usd, pct, signedPct, signedPctPoints, num, time, el, row, fill, json, query, live, latencies, percentile, alertBig };
})();
window.liqwatch = LW;
