"""Roles: one composition root per command (`up`, `collect`, `ingest`, `serve`, `record`, `replay`, `demo`, `doctor`).

Each module wires feeds, capture, bus, store, analytics, alerts and web into one running process; `cli/<command>.py`
parses options and calls it. May import every room below it; only `cli` imports roles.
"""
