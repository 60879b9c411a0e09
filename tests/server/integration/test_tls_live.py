"""TLS on the gateway port over real 127.0.0.1 sockets: probes, the upgrade, pinned and
mis-pinned clients, plaintext refused, the bounded handshake in the pre-auth budget, and a
replaced pair picked up for new connections without a restart."""

from __future__ import annotations

import os
import ssl
from functools import partial
from pathlib import Path

import pytest
import trio
import trio.lowlevel

from openclaw_gateway.client import GatewayClient, GatewayTransportError
from openclaw_gateway.client.tls import client_context
from openclaw_gateway.core.tls import TlsFiles, short
from openclaw_gateway.security.ratelimit import PreauthBudget
from openclaw_gateway.server.edge import EdgeHooks, handle_stream
from openclaw_gateway.server.http.messages import HttpRequest, Response
from openclaw_gateway.server.http.router import RequestContext, Router
from openclaw_gateway.server.tls import TlsAcceptor, load_served
from tests.helpers import TOKEN, RunningGateway
from tests.server.integration.support import StartGateway
from tests.tlskit import copy_pair

BOUND = 10


def _wss(gw: RunningGateway) -> str:
    return f"wss://127.0.0.1:{gw.port}"


async def _tls_gateway(
    start: StartGateway, pair: TlsFiles, tmp_path: Path
) -> tuple[RunningGateway, TlsFiles]:
    files = copy_pair(pair, tmp_path / "served")
    return await start(tls=load_served(files)), files


async def _https_get(port: int, path: str) -> bytes:
    stream = await trio.open_ssl_over_tcp_stream(
        "127.0.0.1", port, ssl_context=client_context(pinned=True), https_compatible=True
    )
    async with stream:
        await stream.send_all(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        data = b""
        while b"\r\n\r\n" not in data or not data.rstrip().endswith((b"}", b"Found")):
            chunk = await stream.receive_some()
            if not chunk:
                break
            data += chunk
        return data


async def _never_upgraded(*_args: object) -> None:
    raise AssertionError("no test here upgrades through this edge")


async def _read_to_eof(stream: trio.SocketStream) -> bytes:
    data = b""
    while chunk := await stream.receive_some():
        data += chunk
    return data


async def test_probes_and_the_upgrade_share_the_tls_port(
    start: StartGateway, tls_pairs: tuple[TlsFiles, TlsFiles], tmp_path: Path
) -> None:
    gw, files = await _tls_gateway(start, tls_pairs[0], tmp_path)
    fingerprint = load_served(files).material.certificate.fingerprint
    with trio.fail_after(BOUND):
        live = await _https_get(gw.port, "/healthz")
        assert live.startswith(b"HTTP/1.1 200 ")
        assert live.endswith(b'{"ok":true,"status":"live"}')
        page = await _https_get(gw.port, "/")  # the web page is behind TLS too
        assert page.startswith(b"HTTP/1.1 200 ")
        assert b"text/html" in page.split(b"\r\n\r\n", 1)[0]
        async with GatewayClient(_wss(gw), token=TOKEN, tls_fingerprint=fingerprint) as client:
            health = await client.call("health")
    assert health["ok"] is True


async def test_a_wrong_pin_or_no_pin_is_refused_before_any_credential(
    start: StartGateway, tls_pairs: tuple[TlsFiles, TlsFiles], tmp_path: Path
) -> None:
    gw, files = await _tls_gateway(start, tls_pairs[0], tmp_path)
    served = load_served(files).material.certificate.fingerprint
    other = load_served(tls_pairs[1]).material.certificate.fingerprint
    with trio.fail_after(BOUND):
        with pytest.raises(GatewayTransportError) as mismatch:
            async with GatewayClient(_wss(gw), token=TOKEN, tls_fingerprint=other):
                pass
        with pytest.raises(GatewayTransportError) as untrusted:
            async with GatewayClient(_wss(gw), token=TOKEN):
                pass
    assert mismatch.value.kind == "tls"
    assert str(mismatch.value) == (
        f"gateway tls fingerprint mismatch (expected {short(other)}, got {short(served)})"
    )
    assert untrusted.value.kind == "tls"
    assert "self-signed certificate" in str(untrusted.value)
    assert "gateway.remote.tlsFingerprint" in str(untrusted.value)


async def test_a_mis_pinned_client_sends_no_request_at_all(
    nursery: trio.Nursery, tls_pairs: tuple[TlsFiles, TlsFiles]
) -> None:
    """The pin is checked right after the handshake: the edge sees no HTTP request (so no
    upgrade, no token) from a client whose pin does not match."""
    seen: list[str] = []

    async def record(request: HttpRequest, _context: RequestContext) -> Response | None:
        seen.append(request.target)
        return None

    async def upgraded(*_args: object) -> None:
        seen.append("upgrade")

    hooks = EdgeHooks(
        on_websocket=upgraded,
        router=Router((record,)),
        bearer_ok=lambda _t: False,
        tls=TlsAcceptor(load_served(tls_pairs[0])),
    )
    listeners = await nursery.start(
        partial(trio.serve_tcp, lambda s: handle_stream(s, hooks), 0, host="127.0.0.1")
    )
    url = f"wss://127.0.0.1:{listeners[0].socket.getsockname()[1]}/probe"
    other = load_served(tls_pairs[1]).material.certificate.fingerprint
    with trio.fail_after(BOUND):
        with pytest.raises(GatewayTransportError, match="fingerprint mismatch"):
            async with GatewayClient(url, token=TOKEN, tls_fingerprint=other):
                pass
        assert seen == []
        right = load_served(tls_pairs[0]).material.certificate.fingerprint
        with pytest.raises(GatewayTransportError):  # upgraded, then closed without a challenge
            async with GatewayClient(url, token=TOKEN, tls_fingerprint=right):
                pass
    assert seen == ["upgrade"]
    nursery.cancel_scope.cancel()


async def test_a_pin_on_a_plain_url_is_a_configuration_error(
    gateway: RunningGateway, tls_pairs: tuple[TlsFiles, TlsFiles]
) -> None:
    pin = load_served(tls_pairs[0]).material.certificate.fingerprint
    with trio.fail_after(BOUND), pytest.raises(GatewayTransportError) as caught:
        async with GatewayClient(gateway.url, token=TOKEN, tls_fingerprint=pin):
            pass
    assert str(caught.value) == "gateway tls fingerprint requires wss:// gateway url"


async def test_plaintext_http_to_the_tls_port_gets_no_plaintext_answer(
    start: StartGateway, tls_pairs: tuple[TlsFiles, TlsFiles], tmp_path: Path
) -> None:
    gw, _ = await _tls_gateway(start, tls_pairs[0], tmp_path)
    with trio.fail_after(BOUND):
        stream = await trio.open_tcp_stream("127.0.0.1", gw.port)
        async with stream:
            await stream.send_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = await _read_to_eof(stream)
    assert b"HTTP/" not in answer and b"live" not in answer


async def test_the_handshake_is_bounded_and_counted_in_the_preauth_budget(
    nursery: trio.Nursery, tls_pairs: tuple[TlsFiles, TlsFiles]
) -> None:
    """A real edge (handle_stream) on 127.0.0.1 with a 0.3 s handshake bound and a budget of
    one unauthenticated socket per address."""
    acceptor = TlsAcceptor(load_served(tls_pairs[0]), handshake_timeout=0.3)
    budget = PreauthBudget(1)
    hooks = EdgeHooks(
        on_websocket=_never_upgraded,
        router=Router(()),
        bearer_ok=lambda _t: False,
        preauth=budget,
        tls=acceptor,
    )
    listeners = await nursery.start(
        partial(trio.serve_tcp, lambda s: handle_stream(s, hooks), 0, host="127.0.0.1")
    )
    port = listeners[0].socket.getsockname()[1]
    with trio.fail_after(BOUND):
        silent = await trio.open_tcp_stream("127.0.0.1", port)  # never says ClientHello
        while budget.count("127.0.0.1") == 0:  # noqa: ASYNC110 (another task's accept)
            await trio.sleep(0.01)
        started = trio.current_time()
        second = await trio.open_tcp_stream("127.0.0.1", port)
        async with second:  # over budget: closed at once, long before the handshake bound
            assert await _read_to_eof(second) == b""
        assert trio.current_time() - started < 0.3
        async with silent:
            assert await _read_to_eof(silent) == b""  # the bound closed it
        assert trio.current_time() - started >= 0.25
        assert budget.count("127.0.0.1") == 0
    nursery.cancel_scope.cancel()


async def test_a_replaced_pair_serves_new_connections_without_a_restart(
    start: StartGateway, tls_pairs: tuple[TlsFiles, TlsFiles], tmp_path: Path
) -> None:
    """Half a replacement (new cert, old key) keeps the old pair serving (logged once); the
    complete one is served to the next connection; the connection opened before stays up."""
    first, second = tls_pairs
    gw, files = await _tls_gateway(start, first, tmp_path)
    old = load_served(first).material.certificate.fingerprint
    new = load_served(second).material.certificate.fingerprint

    def replace(source: Path, target: Path) -> None:
        staged = target.with_name(target.name + ".new")
        staged.write_bytes(source.read_bytes())
        os.replace(staged, target)

    with trio.fail_after(BOUND):
        async with GatewayClient(_wss(gw), token=TOKEN, tls_fingerprint=old) as before:
            replace(second.cert, files.cert)
            await trio.sleep(1.1)  # one reload check interval
            async with GatewayClient(_wss(gw), token=TOKEN, tls_fingerprint=old) as client:
                assert (await client.call("health"))["ok"] is True
            assert (
                "gateway TLS renewal failed; keeping accepted material"
                in gw.stdout.getvalue() + gw.stderr.getvalue()
            )
            replace(second.key, files.key)
            await trio.sleep(1.1)
            async with GatewayClient(_wss(gw), token=TOKEN, tls_fingerprint=new) as client:
                assert (await client.call("health"))["ok"] is True
            with pytest.raises(GatewayTransportError, match="fingerprint mismatch"):
                async with GatewayClient(_wss(gw), token=TOKEN, tls_fingerprint=old):
                    pass
            assert (await before.call("health"))["ok"] is True
    log = gw.stdout.getvalue() + gw.stderr.getvalue()
    assert log.count("gateway TLS renewal failed") == 1
    assert "gateway TLS certificate renewed without restarting listeners" in log


def test_the_server_context_refuses_tls_below_1_3(tls_pairs: tuple[TlsFiles, TlsFiles]) -> None:
    context = load_served(tls_pairs[0]).context
    assert context.minimum_version == ssl.TLSVersion.TLSv1_3


async def test_renewal_paused_serves_the_old_pair_until_reload_is_asked(
    tls_pairs: tuple[TlsFiles, TlsFiles], tmp_path: Path
) -> None:
    """gateway.reload.mode "off": no periodic check; `reload()` (the config watcher's call)
    renews, and a second call with nothing changed does nothing."""
    files = copy_pair(tls_pairs[0], tmp_path / "served")
    acceptor = TlsAcceptor(load_served(files), check_interval=None)
    before = await acceptor.context()
    copy_pair(tls_pairs[1], tmp_path / "served")
    assert await acceptor.context() is before
    assert await acceptor.reload() is True
    assert acceptor.fingerprint == load_served(tls_pairs[1]).material.certificate.fingerprint
    assert await acceptor.context() is not before
    assert await acceptor.reload() is False
