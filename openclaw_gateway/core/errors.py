"""One error tree, split by blame. Third-party exceptions are mapped to these at the boundary."""

from __future__ import annotations

from typing import Any

# Exit codes of the CLI (sysexits): 78 = EX_CONFIG, as the official gateway and its systemd
# unit (RestartPreventExitStatus=78) use it.
EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_CONFIG = 78


class GatewayError(Exception):
    """Root of every error this package raises on purpose."""

    exit_code = EXIT_FAILURE


class ConfigError(GatewayError):
    """The configuration (file, env, flags) is unusable. The user must change it."""

    exit_code = EXIT_CONFIG


class UsageError(GatewayError):
    """A bad command-line value. Exit 1, as the official CLI does for flag errors."""

    exit_code = EXIT_FAILURE


class StartupError(GatewayError):
    """The gateway could not start for a reason outside the config (port busy, lock held)."""

    def __init__(self, message: str, *, exit_code: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class RemoteProtocolError(GatewayError):
    """The peer broke the protocol. Carries the close code (and reason) to answer with."""

    def __init__(self, message: str, *, close_code: int = 1008, close_reason: str = "") -> None:
        super().__init__(message)
        self.close_code = close_code
        self.close_reason = close_reason


class RpcError(GatewayError):
    """A method failed in a way the caller should see as an ErrorShape."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        details: Any = None,
        retryable: bool | None = None,
        retry_after_ms: int | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details
        self.retryable = retryable
        self.retry_after_ms = retry_after_ms

    def to_shape(self) -> dict[str, Any]:
        shape: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            shape["details"] = self.details
        if self.retryable is not None:
            shape["retryable"] = self.retryable
        if self.retry_after_ms is not None:
            shape["retryAfterMs"] = self.retry_after_ms
        return shape


def invalid_request(message: str, details: Any = None) -> RpcError:
    return RpcError("INVALID_REQUEST", message, details=details)


def unavailable(message: str, details: Any = None, *, retryable: bool | None = None) -> RpcError:
    return RpcError("UNAVAILABLE", message, details=details, retryable=retryable)


def is_interrupt(exc: BaseException) -> bool:
    """Ctrl-C, also when trio delivered it inside a background task: a KeyboardInterrupt
    raised there leaves trio.run wrapped in a BaseExceptionGroup, and a command that only
    caught KeyboardInterrupt printed a traceback and exited 1 instead of ending quietly."""
    if isinstance(exc, KeyboardInterrupt):
        return True
    return isinstance(exc, BaseExceptionGroup) and exc.subgroup(KeyboardInterrupt) is not None
