"""Secrets never appear in reprs (issue 13): every attrs class of the package whose field
names a secret declares it `repr=False`, so a stray log of an object cannot leak it."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import attrs

import openclaw_gateway
from openclaw_gateway.protocol.frames import ConnectAuth

SECRET_FIELD = re.compile(r"(token|password|secret|private_key)", re.IGNORECASE)
# Names that hold where a secret lives, not the secret.
NOT_SECRET = re.compile(r"(_path|_file)$")


def _attrs_classes() -> list[type]:
    found = []
    for info in pkgutil.walk_packages(openclaw_gateway.__path__, "openclaw_gateway."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for obj in vars(module).values():
            if inspect.isclass(obj) and attrs.has(obj) and obj.__module__ == module.__name__:
                found.append(obj)
    return found


def test_secret_fields_are_hidden_from_repr() -> None:
    leaking = []
    for cls in _attrs_classes():
        name = f"{cls.__module__}.{cls.__qualname__}"
        for field in attrs.fields(cls):
            secret = SECRET_FIELD.search(field.name) and not NOT_SECRET.search(field.name)
            if secret and field.repr is not False:
                leaking.append(f"{name}.{field.name}")
    assert leaking == []


def test_connect_auth_repr_shows_no_secret() -> None:
    auth = ConnectAuth(
        token="tok-0123456789",
        password="pw-0123456789",
        device_token="dt-0123456789",
        bootstrap_token="bt-0123456789",
    )
    text = repr(auth)
    for secret in ("tok-", "pw-", "dt-", "bt-"):
        assert secret not in text


def test_cli_option_reprs_show_no_secret() -> None:
    from openclaw_gateway.cli.params import GatewayFlags
    from openclaw_gateway.cli.run import RunOptions
    from openclaw_gateway.cli.run_checks import ResolvedAuth

    texts = [
        repr(GatewayFlags(token="tok-0123456789", password="pw-0123456789")),
        repr(RunOptions(token="tok-0123456789", password="pw-0123456789")),
        repr(ResolvedAuth("token", "tok-0123456789", "pw-0123456789", "tok-0123", "pw-0123")),
    ]
    for text in texts:
        assert "tok-" not in text and "pw-" not in text
