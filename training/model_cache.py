"""Content-addressed cache of trained artefacts, kept outside the checkout.

A key is the SHA-256 of everything that shapes an artefact (data, config, domain, training
code, upstream keys, tool versions). A clean clone on the same machine finds its models here
and does not retrain; a change to any input gives a new key and a new build.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from collections.abc import Iterable
from pathlib import Path

logger = logging.getLogger(__name__)


def files_under(root: Path, patterns: Iterable[str]) -> list[Path]:
    """Files matching the glob patterns below `root`, sorted so the key is order-independent."""
    found = {path for pattern in patterns for path in root.glob(pattern) if path.is_file()}
    return sorted(found)


def content_key(files: Iterable[Path], root: Path, extras: Iterable[str] = ()) -> str:
    """Hash of file paths (relative to `root`), their bytes and extra strings such as versions.

    Files are taken in sorted order, so the key does not depend on how they were listed.
    """
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(str(path.relative_to(root) if path.is_relative_to(root) else path).encode())
        digest.update(b"\0")
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        digest.update(b"\0")
    for extra in extras:
        digest.update(extra.encode())
        digest.update(b"\0")
    return digest.hexdigest()


def place(source: Path, target: Path) -> None:
    """Put a cached file or folder at `target`: hard links where possible, copies otherwise."""
    if target.is_dir() and not target.is_symlink():
        shutil.rmtree(target)
    elif target.exists() or target.is_symlink():
        target.unlink()
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, target, copy_function=_link_or_copy)
    else:
        _link_or_copy(str(source), str(target))


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:  # another file system, or links not allowed
        shutil.copy2(source, target)


def store(built: Path, cached: Path) -> Path:
    """Move a fresh build into the cache atomically, so a crash never leaves half an entry."""
    cached.parent.mkdir(parents=True, exist_ok=True)
    staging = cached.with_name(cached.name + ".partial")
    if staging.exists():
        shutil.rmtree(staging) if staging.is_dir() else staging.unlink()
    shutil.move(str(built), str(staging))
    os.replace(staging, cached)
    return cached
