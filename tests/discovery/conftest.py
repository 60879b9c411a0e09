from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.discovery.netns import Namespaces, lo_only, veth_pair


@pytest.fixture
def pair() -> Iterator[Namespaces]:
    """Namespaces A and B joined by a veth pair (skips loudly where they cannot be made)."""
    yield from veth_pair()


@pytest.fixture
def solo() -> Iterator[Namespaces]:
    """One lo-only namespace."""
    yield from lo_only()
