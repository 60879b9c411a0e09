"""Where a config issue is in the JSON5 text: the line of the value at a key path (a port of
the official issue-location scanner). Pure; core/config.py formats issues with it."""

from __future__ import annotations


def _skip_trivia(raw: str, pos: int) -> int:
    while pos < len(raw):
        char = raw[pos]
        if char.isspace():
            pos += 1
        elif raw.startswith("//", pos):
            while pos < len(raw) and raw[pos] not in "\n\r\u2028\u2029":
                pos += 1
        elif raw.startswith("/*", pos):
            close = raw.find("*/", pos + 2)
            pos = len(raw) if close == -1 else close + 2
        else:
            return pos
    return pos


def _scan_quoted(raw: str, pos: int) -> int:
    quote = raw[pos]
    pos += 1
    while pos < len(raw):
        char = raw[pos]
        pos += 1
        if char == "\\":
            pos += 1
        elif char == quote:
            break
    return pos


def _read_key(raw: str, pos: int) -> tuple[str | None, int]:
    pos = _skip_trivia(raw, pos)
    start = pos
    if pos < len(raw) and raw[pos] in "\"'":
        pos = _scan_quoted(raw, pos)
        import json5  # only a config with issues to locate needs it (issue 17)

        try:
            key = json5.loads(raw[start:pos])
        except ValueError:
            return None, pos
        return (key if isinstance(key, str) else None), pos
    while (
        pos < len(raw)
        and not raw[pos].isspace()
        and raw[pos] != ":"
        and not (raw[pos] == "/" and raw[pos + 1 : pos + 2] in ("/", "*"))
    ):
        pos += 1
    return (raw[start:pos] or None), pos


def _skip_value(raw: str, pos: int) -> int:
    pos = _skip_trivia(raw, pos)
    if pos >= len(raw):
        return pos
    char = raw[pos]
    if char in "\"'":
        return _scan_quoted(raw, pos)
    if char in "{[":
        close = "}" if char == "{" else "]"
        pos += 1
        while pos < len(raw):
            pos = _skip_trivia(raw, pos)
            if pos < len(raw) and raw[pos] == close:
                return pos + 1
            if char == "{":
                key, pos = _read_key(raw, pos)
                pos = _skip_trivia(raw, pos)
                if key is None or pos >= len(raw) or raw[pos] != ":":
                    return pos
                pos += 1
            pos = _skip_trivia(raw, _skip_value(raw, pos))
            if pos < len(raw) and raw[pos] == ",":
                pos += 1
        return pos
    while (
        pos < len(raw)
        and raw[pos] not in ",}] \t\r\n"
        and not (raw[pos] == "/" and raw[pos + 1 : pos + 2] in ("/", "*"))
    ):
        pos += 1
    return pos


def _locate(raw: str, pos: int, segments: tuple[str, ...]) -> int | None:
    pos = _skip_trivia(raw, pos)
    if pos >= len(raw) or raw[pos] != "{":
        return None
    pos += 1
    found: int | None = None
    while pos < len(raw):
        pos = _skip_trivia(raw, pos)
        if pos < len(raw) and raw[pos] == "}":
            return found
        key, pos = _read_key(raw, pos)
        pos = _skip_trivia(raw, pos)
        if key is None or pos >= len(raw) or raw[pos] != ":":
            return found
        value_at = _skip_trivia(raw, pos + 1)
        if key == segments[0]:
            found = value_at if len(segments) == 1 else _locate(raw, value_at, segments[1:])
        pos = _skip_trivia(raw, _skip_value(raw, value_at))
        if pos < len(raw) and raw[pos] == ",":
            pos += 1
            continue
        return found
    return found


def issue_line(raw: str, segments: tuple[str, ...]) -> int | None:
    """1-based line of the value at `segments` in the JSON5 text (the last duplicate wins)."""
    if not segments or not raw.strip():
        return None
    offset = _locate(raw, 0, segments)
    if offset is None:
        return None
    line, index = 1, 0
    while index < offset:
        char = raw[index]
        if char == "\r":
            line += 1
            if raw[index + 1 : index + 2] == "\n":
                index += 1
        elif char in "\n\u2028\u2029":
            line += 1
        index += 1
    return line
