"""Fixtures the integration tests share: a local exchange speaking every venue's wire format, and an HTTP session."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from liqwatch.sim import VenueServer


@pytest.fixture
async def server() -> AsyncIterator[VenueServer]:
    async with VenueServer() as s:
        yield s


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s
