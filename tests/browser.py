"""What the browser tests share: the real web app served on a free loopback port, and
Debian's Chromium driven by Playwright (never a downloaded browser)."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from gateway.app import create_app
from tests.conftest import _unavailable

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


@contextmanager
def served(rt) -> Iterator[str]:
    """The app under waitress with the in-process worker; yields its base URL."""
    from waitress import create_server

    rt.queue.start()
    web = create_server(create_app(rt), host="127.0.0.1", port=0, threads=8, ident="ikhtiyar-test")
    threading.Thread(target=web.run, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{web.effective_port}"
    finally:
        web.close()
        rt.queue.stop()


@contextmanager
def chromium(*extra_args: str):
    """Headless Chromium; skipped outside CI when it is not installed, a failure in CI."""
    from playwright import sync_api

    executable = shutil.which("chromium")
    if executable is None:
        _unavailable("chromium", "apt-get install chromium (bash scripts/test does it as root)")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=[*CHROMIUM_ARGS, *extra_args],
                                    headless=True)
        try:
            yield browser
        finally:
            browser.close()
