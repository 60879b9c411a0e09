"""The shared temp root for logs (issue 13, as the official resolveSecureTempRoot): created
0700, another user's directory or a symlink refused, the per-user fallback used instead."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from openclaw_gateway.core.logs import FileLog
from openclaw_gateway.core.tmpdir import (
    UnsafeDirectoryError,
    ensure_private_dir,
    fallback_tmp_root,
    secure_tmp_root,
)

OTHER_UID = 65534  # nobody


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_a_missing_root_is_created_0700(tmp_path: Path) -> None:
    preferred = tmp_path / "openclaw"
    old = os.umask(0)  # the mode must not depend on the umask
    try:
        assert secure_tmp_root(preferred, tmpdir=str(tmp_path)) == preferred
    finally:
        os.umask(old)
    assert _mode(preferred) == 0o700


@pytest.mark.skipif(os.getuid() != 0, reason="chown to another user needs root")
def test_a_root_owned_by_someone_else_is_refused_for_the_per_user_fallback(
    tmp_path: Path,
) -> None:
    preferred = tmp_path / "openclaw"
    preferred.mkdir(mode=0o700)
    os.chown(preferred, OTHER_UID, OTHER_UID)
    got = secure_tmp_root(preferred, tmpdir=str(tmp_path))
    assert got == tmp_path / f"openclaw-{os.getuid()}"
    assert got == fallback_tmp_root(tmpdir=str(tmp_path))
    assert _mode(got) == 0o700
    assert os.lstat(preferred).st_uid == OTHER_UID  # untouched


def test_a_symlinked_root_is_refused_even_to_our_own_directory(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.mkdir(mode=0o700)
    preferred = tmp_path / "openclaw"
    preferred.symlink_to(target)
    got = secure_tmp_root(preferred, tmpdir=str(tmp_path))
    assert got == fallback_tmp_root(tmpdir=str(tmp_path))
    assert preferred.is_symlink()


def test_our_own_root_with_loose_permissions_is_tightened(tmp_path: Path) -> None:
    preferred = tmp_path / "openclaw"
    preferred.mkdir()
    preferred.chmod(0o777)
    assert secure_tmp_root(preferred, tmpdir=str(tmp_path)) == preferred
    assert _mode(preferred) == 0o700


def test_a_file_where_the_root_should_be_is_refused(tmp_path: Path) -> None:
    preferred = tmp_path / "openclaw"
    preferred.write_text("not a dir")
    assert secure_tmp_root(preferred, tmpdir=str(tmp_path)) == fallback_tmp_root(
        tmpdir=str(tmp_path)
    )


def test_an_unsafe_fallback_is_an_error_for_whoever_writes_there(tmp_path: Path) -> None:
    fallback = fallback_tmp_root(tmpdir=str(tmp_path))
    (tmp_path / "x").mkdir()
    fallback.symlink_to(tmp_path / "x")
    with pytest.raises(UnsafeDirectoryError, match="a symlink"):
        ensure_private_dir(fallback)


def test_the_log_file_is_created_0600_and_a_symlinked_log_file_is_refused(
    tmp_path: Path,
) -> None:
    old = os.umask(0)
    try:
        log = FileLog(tmp_path / "openclaw-2026-01-02.log")
        log.open()
        log.close()
    finally:
        os.umask(old)
    assert _mode(tmp_path / "openclaw-2026-01-02.log") == 0o600
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    (tmp_path / "openclaw-2026-01-03.log").symlink_to(victim)
    with pytest.raises(OSError, match="symbolic links"):  # O_NOFOLLOW: ELOOP
        FileLog(tmp_path / "openclaw-2026-01-03.log").open()
    assert victim.read_text() == "keep"


def test_an_existing_log_file_with_loose_permissions_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "gw.log"
    path.write_text("")
    path.chmod(0o644)
    log = FileLog(path)
    log.open()
    log.close()
    assert _mode(path) == 0o600
