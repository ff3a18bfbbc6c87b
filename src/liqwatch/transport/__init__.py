"""Network edge: websocket, REST and the interval poller."""
