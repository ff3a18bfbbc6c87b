"""Feeds: run one venue — connections and polls (transport) → the one parse guard (parse) → events, plus new listings
(subscriptions), silence and drift diagnosis, and subscription fallbacks.

May import model, venues, config and transport; publishing, storage and everything after them are not its business.
"""
