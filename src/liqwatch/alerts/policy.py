"""Cooldown per rule and subject (coin, or venue for feed rules), on the events' own clock.

Seeded from the store at start, so a restart does not repeat an alert still inside its cooldown.
"""

from __future__ import annotations


class Cooldowns:
    """Decide whether a rule may fire again for a subject."""

    def __init__(self, last: dict[tuple[str, str], int] | None = None) -> None:
        self.last: dict[tuple[str, str], int] = dict(last or {})
        self.suppressed = 0

    def allow(self, rule: str, subject: str, ts_trigger: int, cooldown_ns: int) -> bool:
        """Return True (and remember it) if nothing fired for (rule, subject) within `cooldown_ns` before `ts_trigger`."""
        previous = self.last.get((rule, subject))
        if previous is not None and ts_trigger - previous < cooldown_ns:
            self.suppressed += 1
            return False
        self.last[(rule, subject)] = max(ts_trigger, previous or ts_trigger)
        return True
