"""Frames of protocol v4 (req/res/event) and the closed schemas they are checked against."""

from __future__ import annotations

from typing import Any

import attrs

from openclaw_gateway.protocol.schema import (
    NON_EMPTY,
    AnyOf,
    AnyValue,
    Arr,
    Bool,
    Const,
    Enum,
    Int,
    Obj,
    Record,
    Str,
    obj,
    req,
)

PROTOCOL_VERSION = 4
MIN_CLIENT_PROTOCOL_VERSION = 4
MIN_NODE_PROTOCOL_VERSION = 3
MIN_PROBE_PROTOCOL_VERSION = 3

GATEWAY_CLIENT_IDS = (
    "webchat-ui",
    "openclaw-control-ui",
    "openclaw-browser-copilot",
    "openclaw-tui",
    "webchat",
    "cli",
    "gateway-client",
    "openclaw-macos",
    "openclaw-linux",
    "openclaw-ios",
    "openclaw-watchos",
    "openclaw-android",
    "node-host",
    "openclaw-worker",
    "test",
    "fingerprint",
    "openclaw-probe",
)
CLIENT_MODES = ("webchat", "cli", "ui", "backend", "node", "worker", "probe", "test")

REQUEST_FRAME_SCHEMA = obj(
    type=req(Const("req")),
    id=req(NON_EMPTY),
    method=req(NON_EMPTY),
    params=AnyValue(),
    traceparent=Str(max_length=128),
    expectedProfileId=Str(min_length=1, max_length=128),
)

CLIENT_SCHEMA = obj(
    id=req(Enum(GATEWAY_CLIENT_IDS)),
    displayName=NON_EMPTY,
    version=req(NON_EMPTY),
    buildId=Str(min_length=1, max_length=96),
    platform=req(NON_EMPTY),
    deviceFamily=NON_EMPTY,
    modelIdentifier=NON_EMPTY,
    timeZone=Str(min_length=1, max_length=64),
    mode=req(Enum(CLIENT_MODES)),
    instanceId=NON_EMPTY,
)

DEVICE_SCHEMA = obj(
    id=req(NON_EMPTY),
    publicKey=req(NON_EMPTY),
    signature=req(NON_EMPTY),
    signedAt=req(Int(minimum=0)),
    nonce=req(NON_EMPTY),
)

AUTH_SCHEMA = obj(
    token=Str(),
    bootstrapToken=Str(),
    deviceToken=Str(),
    password=Str(),
    approvalRuntimeToken=Str(),
    agentRuntimeIdentityToken=Str(),
)

CONNECT_PARAMS_SCHEMA = obj(
    minProtocol=req(Int(minimum=1)),
    maxProtocol=req(Int(minimum=1)),
    client=req(CLIENT_SCHEMA),
    caps=Arr(NON_EMPTY),
    commands=Arr(NON_EMPTY),
    computerUse=AnyValue(),
    workerRuns=obj(closed=False),
    permissions=Record(Bool()),
    pathEnv=Str(),
    role=NON_EMPTY,
    scopes=Arr(NON_EMPTY),
    modelCatalog=AnyOf(
        (
            obj(agentId=NON_EMPTY, sessionKey=NON_EMPTY),
            obj(agentId=NON_EMPTY, shortId=req(NON_EMPTY), slugHint=NON_EMPTY),
        )
    ),
    device=DEVICE_SCHEMA,
    auth=AUTH_SCHEMA,
    locale=Str(),
    userAgent=Str(),
)


@attrs.frozen
class RequestFrame:
    id: str
    method: str
    # Handlers receive `params ?? {}`; `params_present` keeps the difference for logging.
    params: Any = None
    params_present: bool = False


@attrs.frozen
class ClientInfo:
    id: str
    version: str
    platform: str
    mode: str
    display_name: str | None = None
    device_family: str | None = None
    model_identifier: str | None = None
    time_zone: str | None = None
    instance_id: str | None = None
    build_id: str | None = None


@attrs.frozen
class DeviceProof:
    id: str
    public_key: str
    signature: str
    signed_at: int
    nonce: str


@attrs.frozen
class ConnectAuth:
    """The connect `auth` block: bearer secrets, hidden from repr."""

    token: str | None = attrs.field(default=None, repr=False)
    password: str | None = attrs.field(default=None, repr=False)
    device_token: str | None = attrs.field(default=None, repr=False)
    bootstrap_token: str | None = attrs.field(default=None, repr=False)


@attrs.frozen
class ConnectParams:
    min_protocol: int
    max_protocol: int
    client: ClientInfo
    role: str = "operator"
    scopes: tuple[str, ...] = ()
    caps: tuple[str, ...] = ()
    commands: tuple[str, ...] = ()
    auth: ConnectAuth = ConnectAuth()
    device: DeviceProof | None = None
    raw: dict[str, Any] = attrs.field(factory=dict, eq=False, repr=False)

    @classmethod
    def from_validated(cls, params: dict[str, Any]) -> ConnectParams:
        """Build from params that already passed CONNECT_PARAMS_SCHEMA."""
        c = params["client"]
        client = ClientInfo(
            id=c["id"],
            version=c["version"],
            platform=c["platform"],
            mode=c["mode"],
            display_name=c.get("displayName"),
            device_family=c.get("deviceFamily"),
            model_identifier=c.get("modelIdentifier"),
            time_zone=c.get("timeZone"),
            instance_id=c.get("instanceId"),
            build_id=c.get("buildId"),
        )
        a = params.get("auth") or {}
        auth = ConnectAuth(
            token=a.get("token"),
            password=a.get("password"),
            device_token=a.get("deviceToken"),
            bootstrap_token=a.get("bootstrapToken"),
        )
        d = params.get("device")
        device = (
            DeviceProof(d["id"], d["publicKey"], d["signature"], int(d["signedAt"]), d["nonce"])
            if d
            else None
        )
        return cls(
            min_protocol=int(params["minProtocol"]),
            max_protocol=int(params["maxProtocol"]),
            client=client,
            role=params.get("role", "operator"),
            scopes=tuple(params.get("scopes") or ()),
            caps=tuple(params.get("caps") or ()),
            commands=tuple(params.get("commands") or ()),
            auth=auth,
            device=device,
            raw=params,
        )


def is_obj(schema: object) -> bool:
    return isinstance(schema, Obj)
