"""The root `--dev`/`--profile` scan, done on raw argv before any command parsing.

Mirrors the official `parseCliProfileArgs` (profile-*.mjs): both options are taken from
anywhere before `--`, except that `--dev` once the command is `gateway` is left in place, where
it is the `gateway run --dev` option. Errors exit 2 with an `[openclaw] ` prefix.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import attrs

from openclaw_gateway.core.errors import UsageError
from openclaw_gateway.core.paths import is_valid_profile_name

ROOT_VALUE_OPTIONS = ("--log-level", "--container")
ROOT_FLAGS = ("--no-color", "-V", "--version", "-h", "--help")
EXIT_ARGUMENT_ERROR = 2
_NEGATIVE_NUMBER = re.compile(r"^-\d+(?:\.\d+)?$")


class ArgumentError(UsageError):
    exit_code = EXIT_ARGUMENT_ERROR


@attrs.frozen
class ProfileArgs:
    profile: str | None
    argv: tuple[str, ...]


def _is_value(token: str | None) -> bool:
    if not token or token == "--":
        return False
    return not token.startswith("-") or bool(_NEGATIVE_NUMBER.match(token))


def _primary(out: list[str]) -> str | None:
    """The first command word in what has been kept so far (root option values skipped)."""
    skip = False
    for token in out:
        if skip:
            skip = False
            continue
        if token in ROOT_VALUE_OPTIONS:
            skip = True
            continue
        if not token.startswith("-"):
            return token
    return None


def scan_profile_args(argv: list[str] | tuple[str, ...]) -> ProfileArgs:
    profile: str | None = None
    saw_dev = False
    out: list[str] = []
    index = 0
    while index < len(argv):
        arg = argv[index]
        if arg == "--":
            out.extend(argv[index:])
            break
        if arg == "--dev":
            if _primary(out) == "gateway":
                out.append(arg)
            elif profile and profile != "dev":
                raise ArgumentError("Cannot combine --dev with --profile")
            else:
                saw_dev = True
                profile = "dev"
            index += 1
            continue
        if arg == "--profile" or arg.startswith("--profile="):
            if "=" in arg:
                value: str | None = arg.split("=", 1)[1].strip() or None
            else:
                following = argv[index + 1] if index + 1 < len(argv) else None
                if _is_value(following):
                    value = (following or "").strip() or None
                    index += 1
                else:
                    value = None
            if saw_dev:
                raise ArgumentError("Cannot combine --dev with --profile")
            if not value:
                raise ArgumentError("--profile requires a value")
            if not is_valid_profile_name(value):
                raise ArgumentError('Invalid --profile (use letters, numbers, "_", "-" only)')
            profile = value
            index += 1
            continue
        out.append(arg)
        index += 1
    return ProfileArgs(profile, tuple(out))


def command_index(argv: tuple[str, ...] | list[str]) -> int | None:
    """Index of the first command word (root options and their values skipped)."""
    skip = False
    for index, token in enumerate(argv):
        if skip:
            skip = False
            continue
        if token == "--":
            return None
        if token in ROOT_VALUE_OPTIONS:
            skip = True
            continue
        if not token.startswith("-"):
            return index
    return None


OptionShapes = Mapping[str, bool]  # option name -> takes a value


def hoist_parent_options(
    argv: tuple[str, ...],
    parent: OptionShapes,
    subcommands: Mapping[str, OptionShapes],
) -> tuple[str, ...]:
    """`gateway --port 19001 status` means `gateway status --port 19001` (cli.md §0).

    The official CLI (commander) parses options written before a subcommand as the parent's
    and lets the subcommand read them. Here the options between `gateway` and a known
    subcommand move behind the subcommand when it accepts them; a parent (run) option it does
    not accept is dropped, as it would be ignored there; anything else is left in place, so the
    parser reports it. Nothing changes unless such options are present.
    """
    start = command_index(argv)
    if start is None or argv[start] != "gateway":
        return argv
    index = start + 1
    groups: list[tuple[str, ...]] = []
    while index < len(argv) and argv[index].startswith("-") and argv[index] != "--":
        token = argv[index]
        name = token.split("=", 1)[0]
        shape = parent.get(name)
        takes_value = "=" not in token and (
            shape if shape is not None else any(name in s and s[name] for s in subcommands.values())
        )
        if takes_value and index + 1 < len(argv):
            groups.append((token, argv[index + 1]))
            index += 2
        else:
            groups.append((token,))
            index += 1
    if not groups or index >= len(argv) or argv[index] not in subcommands:
        return argv
    sub = argv[index]
    accepted = subcommands[sub]
    moved: list[str] = []
    kept: list[str] = []
    for group in groups:
        name = group[0].split("=", 1)[0]
        if name in accepted:
            moved.extend(group)
        elif name not in parent:
            kept.extend(group)  # unknown everywhere: the parser will say so
    return (*argv[: start + 1], *kept, sub, *moved, *argv[index + 1 :])
