"""A small HTTP client for the harness: a cookie jar, the forms of a page, and sign-in with
the password step and the TOTP step (pyotp), as a browser would do it."""

from __future__ import annotations

import http.cookiejar
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from html.parser import HTMLParser

import pyotp

COOKIE = "casemgr_session"  # CASEMGR_HTTPS is off on loopback


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@dataclass
class Response:
    status: int
    url: str
    location: str
    body: bytes
    seconds: float

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class Browser:
    def __init__(self, base: str):
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect
        )

    def request(self, method: str, path: str, data: dict | None = None, timeout=120) -> Response:
        body = urllib.parse.urlencode(data or {}, doseq=True).encode() if method == "POST" else None
        req = urllib.request.Request(self.base + path, data=body, method=method)  # noqa: S310
        if body is not None:
            req.add_header("Content-Type", "application/x-www-form-urlencoded")
        start = time.perf_counter()
        try:
            with self.opener.open(req, timeout=timeout) as resp:
                payload, status, headers = resp.read(), resp.status, resp.headers
        except urllib.error.HTTPError as exc:
            payload, status, headers = exc.read(), exc.code, exc.headers
        elapsed = time.perf_counter() - start
        return Response(status, path, headers.get("Location", ""), payload, elapsed)

    def get(self, path: str) -> Response:
        return self.request("GET", path)

    def post(self, path: str, data: dict) -> Response:
        return self.request("POST", path, data)

    def cookie(self) -> str:
        return next(c.value for c in self.jar if c.name == COOKIE)

    def form_fields(self, path: str, action: str | None = None) -> dict[str, str]:
        """The named inputs of a page's POST form that posts to `action` (default: the page
        itself), with their current values."""
        page = self.get(path)
        if page.status != 200:
            raise RuntimeError(f"GET {path}: {page.status}")
        parser = _FormParser(action or path.split("?")[0])
        parser.feed(page.text)
        return parser.fields

    def csrf(self, path: str) -> str:
        return self.form_fields(path)["csrf_token"]

    def sign_in(self, login: str, password: str, seed: str) -> float:
        """Both steps; returns the seconds they took. Waits for a fresh TOTP step when this
        login's code for the current one may already have been used (codes are single-use)."""
        start = time.perf_counter()
        first = self.post(
            "/login", {"csrf_token": self.csrf("/login"), "login": login, "password": password}
        )
        if first.status != 302 or "/login/code" not in first.location:
            raise RuntimeError(f"sign-in of {login}: password step answered {first.status}")
        second, waited = self._code_step(seed), 0.0
        if second.status == 200:  # this step's code was already used: the next one is fresh
            waited = 30 - time.time() % 30 + 0.5
            time.sleep(waited)
            second = self._code_step(seed)
        if second.status != 302:
            raise RuntimeError(f"sign-in of {login}: code step answered {second.status}")
        return time.perf_counter() - start - waited

    def _code_step(self, seed: str) -> Response:
        code = pyotp.TOTP(seed).now()
        return self.post("/login/code", {"csrf_token": self.csrf("/login/code"), "code": code})


class _FormParser(HTMLParser):
    def __init__(self, action: str):
        super().__init__()
        self.action = action
        self.fields: dict[str, str] = {}
        self._in_post_form = False
        self._done = False
        self._select: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if self._done:
            return
        if tag == "form":
            target = urllib.parse.urlsplit(a.get("action") or self.action).path
            posts = (a.get("method") or "").lower() == "post"
            self._in_post_form = posts and target == self.action
            return
        if not self._in_post_form or not a.get("name"):
            if (
                tag == "option"
                and self._select
                and ("selected" in a or self._select not in self.fields)
            ):
                self.fields[self._select] = a.get("value") or ""
            return
        name = a["name"]
        if tag == "input":
            kind = (a.get("type") or "text").lower()
            if kind in {"checkbox", "radio"}:
                if "checked" in a:
                    self.fields[name] = a.get("value") or "y"
            elif kind != "submit":
                self.fields.setdefault(name, a.get("value") or "")
        elif tag == "select":
            self._select = name
        elif tag == "textarea":
            self.fields.setdefault(name, "")

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "form" and self._in_post_form and self.fields:
            self._done = True
            self._in_post_form = False
