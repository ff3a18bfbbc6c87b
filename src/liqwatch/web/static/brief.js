"use strict";
// The brief is rendered on the server (its charts draw themselves); mark the page ready once they have.
window.addEventListener("load", () => { document.body.dataset.ready = "1"; });
