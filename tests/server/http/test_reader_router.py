"""The HTTP seam: bounded body reading and the ordered router."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from openclaw_gateway.server.http.messages import HttpRequest, Response, json_response, text
from openclaw_gateway.server.http.reader import BodyError, RequestReader
from openclaw_gateway.server.http.router import RequestContext, Router


async def _reader_for(data: bytes, *, close: bool = True) -> RequestReader:
    send, receive = trio.testing.memory_stream_pair()
    await send.send_all(data)
    if close:
        await send.aclose()
    return RequestReader(receive)


async def test_content_length_body_is_read_after_the_head() -> None:
    reader = await _reader_for(b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello")
    head = await reader.head()
    assert isinstance(head, HttpRequest) and head.path == "/x"
    assert await reader.body(10, 1.0) == b"hello"


async def test_chunked_body_is_reassembled() -> None:
    raw = b"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
    reader = await _reader_for(raw)
    assert isinstance(await reader.head(), HttpRequest)
    assert await reader.body(10, 1.0) == b"abcde"


async def test_a_body_over_the_limit_is_413() -> None:
    reader = await _reader_for(
        b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world"
    )
    assert isinstance(await reader.head(), HttpRequest)
    with pytest.raises(BodyError) as caught:
        await reader.body(10, 1.0)
    assert caught.value.status == 413


async def test_a_slow_body_is_408(autojump_clock: trio.testing.MockClock) -> None:
    send, receive = trio.testing.memory_stream_pair()
    await send.send_all(b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhe")
    reader = RequestReader(receive)
    assert isinstance(await reader.head(), HttpRequest)
    with pytest.raises(BodyError) as caught:
        await reader.body(10, 5.0)
    assert caught.value.status == 408


async def test_routes_are_tried_in_order_and_none_passes_on() -> None:
    seen: list[str] = []

    async def first(request: HttpRequest, context: RequestContext) -> Response | None:
        seen.append("first")
        return None

    async def second(request: HttpRequest, context: RequestContext) -> Response | None:
        seen.append("second")
        return json_response(200, {"path": request.path}) if request.path == "/b" else None

    async def no_body(limit: int, time_limit: float) -> bytes:
        return b""

    context = RequestContext("127.0.0.1", True, lambda _t: False, no_body)
    router = Router((first, second))
    answer = await router.handle(HttpRequest("GET", "/b?q=1", {}), context)
    assert answer == json_response(200, {"path": "/b"})
    assert seen == ["first", "second"]
    assert await router.handle(HttpRequest("GET", "/c", {}), context) == text(404, "Not Found")


def test_query_and_bearer_token_are_parsed() -> None:
    request = HttpRequest("GET", "/v?a=1&b=", {"authorization": "Bearer  tok "})
    assert request.query == {"a": "1", "b": ""}
    assert request.bearer_token() == "tok"
    assert HttpRequest("GET", "/", {"authorization": "Basic x"}).bearer_token() == ""
