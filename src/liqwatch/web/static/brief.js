"use strict";
// The brief is rendered on the server: each chart is a JSON block (never executed); draw them here (the page's CSP
// allows no inline script), then mark the page ready once the page has loaded.
document.querySelectorAll("script.figure-spec").forEach((s) => {
  const f = JSON.parse(s.textContent);
  Plotly.newPlot(s.dataset.target, f.data, f.layout, { responsive: true });
});
window.addEventListener("load", () => { document.body.dataset.ready = "1"; });
