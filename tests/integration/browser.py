"""Headless Chromium for the browser tests, driven by Playwright.

The browser is Debian's ``chromium`` package (``make system-deps`` installs it), never one that
Playwright downloads. Screenshots go to ``reports/browser/`` (the test output folder), where the
README's pictures are copied from.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "reports" / "browser"

# Headless, and nothing that phones home: on a closed network Chromium's background
# connections fail by the dozen and slow every start.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    """The system Chromium: ``$CHROMIUM`` if set, else the first on PATH."""
    configured = os.environ.get("CHROMIUM")
    if configured:
        return configured
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None
