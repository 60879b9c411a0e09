from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server.tailscale.fake import FakeTailscale, install


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeTailscale]:
    """The recording fake `tailscale`, first on PATH (scenario: ready, DNSName set)."""
    fake = install(tmp_path / "bin")
    monkeypatch.setenv("PATH", f"{fake.directory}{os.pathsep}{os.environ.get('PATH', '')}")
    yield fake
    fake.kill_claims()
