// Venues: per venue and connection, the data-quality view (state, last message age, rate, reconnects, skipped) and
// the drift diagnosis (what changed at the venue, in words: refused, TLS, HTTP status, rejected subscribe, …).
"use strict";
(() => {
  const { config, el, row, fill, json, query } = LW;
  const at = config.at === null || config.at === undefined ? null : String(config.at);
  const said = (ds) => (ds || []).map((d) => (d.connection === "rest" ? "instruments REST: " : "") + d.text).join(" · ");
  const age = (s) => (s === null || s === undefined ? "–" : s < 1 ? "<1 s" : s.toFixed(0) + " s");
  async function load() {
    const d = await json("/api/venues" + query({ at }));
    document.getElementById("venues-mode").textContent = d.live
      ? "Live collector in this process." : "No collector in this process: stored activity only.";
    const rows = [];
    for (const v of d.venues) {
      const conns = v.connections.length ? v.connections : [null];
      for (const [i, c] of conns.entries()) {
        const state = c ? c.state : v.state;
        const diagnosis = [c ? said(c.diagnoses) : "", i === 0 ? said(v.diagnoses.filter((d) => d.connection === "rest")) : ""]
          .filter(Boolean).join(" · ");
        const tr = row([v.venue, c ? c.connection : "–", { text: state, cls: "state " + state },
                        { text: c ? age(c.last_message_age_s) : "–", cls: "num" },
                        { text: c && c.messages_per_min !== null ? c.messages_per_min.toFixed(0) : "–", cls: "num" },
                        { text: c ? c.reconnects : "–", cls: "num", value: c ? c.reconnects : "" },
                        { text: c ? c.skipped : "–", cls: "num", value: c ? c.skipped : "" },
                        { text: c ? c.events.toLocaleString("en-US") : "–", cls: "num" },
                        { text: v.liquidations_24h.toLocaleString("en-US"), cls: "num", value: v.liquidations_24h },
                        { text: v.outages_24h, cls: "num" },
                        { text: diagnosis, cls: diagnosis ? "diagnosis" : "" }]);
        tr.dataset.venue = v.venue;
        if (c && Object.keys(c.skipped_by_reason).length) tr.title = JSON.stringify(c.skipped_by_reason);
        rows.push(tr);
      }
    }
    if (!rows.length) {
      const empty = row(["No venue is collected in this process and none stored a liquidation in the 24 h before " + d.at + "."]);
      empty.cells[0].colSpan = 11;
      empty.className = "note empty";
      rows.push(empty);
    }
    fill(document.querySelector("#venues tbody"), rows);
    if (d.writer) {
      document.getElementById("writer").textContent =
        "writer queue " + d.writer.queue_depth + ", errors " + d.writer.errors + ", last flush " + d.writer.last_flush_ms + " ms" +
        (d.writer.dead_letters ? ", dead letters " + d.writer.dead_letters + " (last: " + d.writer.last_dead_letter + ")" : "");
    }
    document.body.dataset.ready = "1";
  }
  load().catch((err) => { document.getElementById("venues-mode").textContent = "Could not load: " + err.message; });
  if (!at) setInterval(() => load().catch(() => {}), 2000);
  void el;
})();
