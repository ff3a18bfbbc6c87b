"""Web: the dashboard and read-only JSON API (`web.asgi.create_app(store, bus, status_provider, settings)`).

Needs the `web` extra (FastAPI, uvicorn, plotly); imported only when the web server is enabled. May import
analytics, heatmap, alerts, storage, bus and config; never roles or cli.
"""
