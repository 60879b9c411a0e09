"""One real loopback round trip through the whole stack."""

from __future__ import annotations

from tests.helpers import RunningGateway, connected


async def test_health_over_loopback(gateway: RunningGateway) -> None:
    async with connected(gateway.port) as client:
        assert client.hello is not None
        assert client.hello["type"] == "hello-ok"
        assert client.hello["protocol"] == 4
        res = await client.call("health")
        assert res["ok"] is True
        assert res["payload"]["ok"] is True
