"""Capture: frames to and from files — the JSON Lines frame format (format), the live tap that writes it (tap), and
playback of recorded files through the same parse guard as live frames (playback).

May import model, venues, transport and feeds.
"""
