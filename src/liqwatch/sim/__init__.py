"""Local stand-ins for the outside world: an exchange server speaking real venue wire formats."""

from __future__ import annotations

from liqwatch.sim.venue_server import VenueCounters, VenueServer

__all__ = ["VenueCounters", "VenueServer"]
