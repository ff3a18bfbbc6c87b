"""Transport: the network edge that receives bytes — websocket connections, REST requests, frame decompression.

May import only model, venues and the basics (errors, logs, redact); parsing and everything after it live elsewhere.
"""
