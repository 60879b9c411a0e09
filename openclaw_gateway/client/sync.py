"""The blocking wrapper for scripts: the async client on a background trio thread."""

from __future__ import annotations

import contextlib
import threading
from typing import TYPE_CHECKING, Any

import trio

from openclaw_gateway.client.session import DEFAULT_CALL_TIMEOUT

if TYPE_CHECKING:
    from openclaw_gateway.client.reconnecting import GatewayClient


class SyncGatewayClient:
    """`with GatewayClient.sync(url, token=…) as gw: gw.call("health")` — for scripts."""

    def __init__(self, client: GatewayClient) -> None:
        self._client = client
        self._token: trio.lowlevel.TrioToken | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._stop: trio.Event | None = None
        self._thread = threading.Thread(target=self._main, daemon=True, name="openclaw-client")

    def _main(self) -> None:
        async def body() -> None:
            self._token = trio.lowlevel.current_trio_token()
            self._stop = trio.Event()
            try:
                async with self._client:
                    self._ready.set()
                    await self._stop.wait()
            except BaseException as exc:
                self._error = exc
                self._ready.set()

        trio.run(body)

    def __enter__(self) -> SyncGatewayClient:
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            self._thread.join()
            raise self._error
        return self

    def __exit__(self, *exc: object) -> None:
        if self._token is not None and self._stop is not None:
            with contextlib.suppress(trio.RunFinishedError):
                trio.from_thread.run_sync(self._stop.set, trio_token=self._token)
        self._thread.join()

    def call(
        self,
        method: str,
        params: Any = None,
        timeout: float = DEFAULT_CALL_TIMEOUT,
        *,
        expect_final: bool = False,
    ) -> Any:
        assert self._token is not None
        return trio.from_thread.run(
            lambda: self._client.call(method, params, timeout=timeout, expect_final=expect_final),
            trio_token=self._token,
        )

    @property
    def hello(self) -> dict[str, Any]:
        return self._client.hello
