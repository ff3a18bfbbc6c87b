"""Bus: where parsed events are published — in-process fan-out (local) or NATS JetStream between machines (jetstream).

May import model, config and the basics; never the store or the analytics.
"""
