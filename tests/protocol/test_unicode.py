"""Valid JSON that is not valid Unicode (issue 13): a lone surrogate escape such as "\\udcff".

Decided once, at the decoder: every lone surrogate in every string (keys and values) becomes
U+FFFD, so nothing stored, logged or broadcast can fail to encode as UTF-8 later.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from openclaw_gateway.protocol import codec

BOUNDED = settings(max_examples=300, deadline=None)

# Every code point, surrogates included (Hypothesis leaves category Cs out by default), with
# surrogates drawn often: among all code points they would almost never come up.
any_char = st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=())
surrogate = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF, categories=["Cs"])
any_char = surrogate | any_char | st.sampled_from('a"\\\n')
texts = st.text(alphabet=any_char, max_size=12)
values = st.recursive(
    st.none() | st.booleans() | st.integers() | texts,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(texts, children, max_size=4),
    max_leaves=16,
)


def _replaced(value: Any) -> Any:
    """What the decoder must produce: each lone surrogate code unit -> U+FFFD."""
    if isinstance(value, str):
        return "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in value)
    if isinstance(value, list):
        return [_replaced(v) for v in value]
    if isinstance(value, dict):
        return {_replaced(k): _replaced(v) for k, v in value.items()}
    return value


def _utf8_clean(value: Any) -> None:
    codec.encode(value).encode("utf-8")  # raises on a lone surrogate


@BOUNDED
@given(values)
@example({"text": "\udcff", "\ud800": ["a\udfffb", "\U0001f600"]})
def test_decoded_values_always_encode_as_utf8(value: Any) -> None:
    # What a JavaScript client sends: JSON.stringify escapes lone surrogates as \\udXXX.
    wire = json.dumps(value, ensure_ascii=True)
    decoded = codec.parse_json(wire)
    assert decoded == _replaced(value)
    _utf8_clean(decoded)
    # The same through a binary frame.
    assert codec.parse_json(wire.encode("ascii")) == decoded


def test_lone_surrogates_become_replacement_characters() -> None:
    frame = codec.decode_request(
        '{"type":"req","id":"1","method":"system-event",'
        '"params":{"text":"a\\udcffb","\\ud800k":["\\udfff"]}}'
    )
    assert frame.params == {"text": "a\ufffdb", "\ufffdk": ["\ufffd"]}


def test_valid_surrogate_pairs_are_kept() -> None:
    assert codec.parse_json('"\\ud83d\\ude00 \\u00e9"') == "\U0001f600 é"


def test_a_high_surrogate_escape_before_a_non_low_one_is_two_replacements() -> None:
    assert codec.parse_json('"\\ud83d\\ud83d"') == "\ufffd\ufffd"


def test_deep_nesting_with_a_surrogate_still_decodes() -> None:
    depth = 500
    text = "[" * depth + '"\\udcff"' + "]" * depth
    value = codec.parse_json(text)
    for _ in range(depth):
        assert isinstance(value, list)
        value = value[0]
    assert value == "\ufffd"
