"""Sim: local stand-ins for the outside world — exchange servers speaking each venue's real wire format, and the
simulated market the demo replays through them.

May import model, venues, capture and storage; the demo's composition root is `roles.demo`.
"""

from __future__ import annotations

from liqwatch.sim.venue_server import VenueCounters, VenueServer

__all__ = ["VenueCounters", "VenueServer"]
