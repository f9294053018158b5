"""A minimal W3C WebDriver client for Debian's ``chromedriver`` driving Debian's Chromium headless.

Why not Selenium: its current release needs a newer ``certifi`` than the package index has and
older ones pull a dozen transitive packages; what the tests need is six endpoints of the W3C
WebDriver protocol (a JSON-over-HTTP API), spoken here with the standard library. The browser
and its driver are the real programs (``/usr/bin/chromium``, ``/usr/bin/chromedriver``); when
either is missing the tests fail, they never skip.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from devtools import free_port, wait_for_port

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"   # the W3C web element identifier


def artefacts_dir(kind: str) -> Path:
    """Where a browser test's screenshots go: ``$RN_ARTEFACTS/<kind>`` if set, else a fresh
    temporary directory (the tests print it)."""
    base = os.environ.get("RN_ARTEFACTS")
    path = Path(base) / kind if base else Path(tempfile.mkdtemp(prefix=f"rn-{kind}-"))
    path.mkdir(parents=True, exist_ok=True)
    return path


class WebDriverError(RuntimeError):
    pass


class Browser:
    def __init__(self, workdir: Path, *, width: int = 1400, height: int = 1000):
        for p in (CHROMIUM, CHROMEDRIVER):
            if not p.exists():
                raise FileNotFoundError(f"{p} is missing: install Debian's chromium and chromium-driver "
                                        "(scripts/test.sh does, as root)")
        self.port = free_port()
        self.log = open(workdir / "chromedriver.log", "wb")
        self.proc = subprocess.Popen([str(CHROMEDRIVER), f"--port={self.port}"], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        wait_for_port(self.port, 15.0, self.proc)
        caps = {"browserName": "chrome", "goog:loggingPrefs": {"browser": "ALL"}, "goog:chromeOptions": {
            "binary": str(CHROMIUM),
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     f"--window-size={width},{height}", "--lang=zh-CN", f"--user-data-dir={workdir / 'profile'}"]}}
        self.session = self._call("POST", "/session", {"capabilities": {"alwaysMatch": caps}})["sessionId"]

    def _call(self, method: str, path: str, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=120) as res:
                return json.loads(res.read())["value"]
        except urllib.error.HTTPError as exc:
            raise WebDriverError(f"{method} {path}: {exc.code} {exc.read()[:500]!r}") from None

    def _s(self, method: str, path: str, body=None):
        return self._call(method, f"/session/{self.session}{path}", body)

    def get(self, url: str) -> None:
        self._s("POST", "/url", {"url": url})

    def js(self, script: str, *args):
        return self._s("POST", "/execute/sync", {"script": script, "args": list(args)})

    def find(self, css: str) -> str:
        return self._s("POST", "/element", {"using": "css selector", "value": css})[ELEMENT]

    def click(self, css: str) -> None:
        self._s("POST", f"/element/{self.find(css)}/click", {})

    def type(self, css: str, text: str) -> None:
        self._s("POST", f"/element/{self.find(css)}/value", {"text": text})

    def screenshot(self, path: Path) -> Path:
        """The whole page: the window grows to the document's height for the shot."""
        rect = self._s("GET", "/window/rect")
        height = min(8000, int(self.js("return document.documentElement.scrollHeight")) + 120)
        self._s("POST", "/window/rect", {"width": rect["width"], "height": max(rect["height"], height)})
        try:
            path.write_bytes(base64.b64decode(self._s("GET", "/screenshot")))
        finally:
            self._s("POST", "/window/rect", {"width": rect["width"], "height": rect["height"]})
        return path

    def console(self) -> list[dict]:
        """Browser console entries since the last call (chromedriver's log endpoint)."""
        return self._s("POST", "/se/log", {"type": "browser"})

    def wait(self, script: str, timeout: float = 30.0, what: str = "condition"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.js(script)
            if value:
                return value
            time.sleep(0.1)
        raise AssertionError(f"timed out after {timeout}s waiting for {what}")

    def close(self) -> None:
        try:
            self._call("DELETE", f"/session/{self.session}")
        except Exception:  # noqa: BLE001 - the driver is killed below anyway
            pass
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()
