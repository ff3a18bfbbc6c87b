"""The dashboard and read-only JSON API: `web.server.create_app(store, bus, status_provider, settings)`.

Needs the `web` extra (FastAPI, uvicorn, plotly); imported only when the web server is enabled.
"""
