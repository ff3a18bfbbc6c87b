"use strict";
// The brief is rendered on the server; nothing live here yet.
