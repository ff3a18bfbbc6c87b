"""Analytics over stored and live events."""
