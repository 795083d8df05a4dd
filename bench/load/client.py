"""A browser without a browser: a cookie jar, no automatic redirects, the forms of a page,
and the two-step sign-in (password, then a TOTP code from pyotp)."""

from __future__ import annotations

import http.client
import http.cookiejar
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from html.parser import HTMLParser

import pyotp

TIMEOUT = 60.0


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a 302 comes back as the reply: it is the acknowledgement of a save


@dataclass
class Reply:
    status: int  # 0: no HTTP answer at all (refused, reset, timed out)
    location: str
    content_type: str
    body: bytes
    seconds: float
    error: str = ""
    retry_after: str = ""  # the Retry-After header, on a 503

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


@dataclass
class Form:
    action: str
    fields: list[tuple[str, str]] = field(default_factory=list)
    options: dict[str, list[str]] = field(default_factory=dict)  # each select's values

    def data(self, **overrides: str) -> dict[str, str | list[str]]:
        """The values a browser would send untouched, with `overrides` typed over them."""
        found: dict[str, str | list[str]] = {}
        for name, value in self.fields:
            if name in found:
                prev = found[name]
                found[name] = [*prev, value] if isinstance(prev, list) else [prev, value]
            else:
                found[name] = value
        found.update(overrides)
        return found


class _Forms(HTMLParser):
    """Every <form> with what it would submit: hidden and typed inputs, checked boxes, the
    selected (or first) option of each select, textareas."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self._select: str | None = None
        self._options: list[tuple[str, bool]] = []
        self._textarea: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = {k: (v or "") for k, v in attrs}
        if tag == "form":
            self.forms.append(Form(a.get("action", "")))
        elif not self.forms:
            return
        elif tag == "input" and a.get("name"):
            kind = a.get("type", "text").lower()
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            if kind not in ("submit", "button", "file", "image", "reset"):
                self.forms[-1].fields.append(
                    (a["name"], a.get("value", "on" if kind == "checkbox" else ""))
                )
        elif tag == "select" and a.get("name"):
            self._select, self._options = a["name"], []
        elif tag == "option" and self._select is not None:
            self._options.append((a.get("value", ""), "selected" in a))
        elif tag == "textarea" and a.get("name"):
            self._textarea, self._text = a["name"], []

    def handle_data(self, data):
        if self._textarea is not None:
            self._text.append(data)

    def handle_endtag(self, tag):
        if tag == "select" and self._select is not None:
            chosen = [v for v, selected in self._options if selected] or [
                v for v, _ in self._options[:1]
            ]
            self.forms[-1].fields.extend((self._select, v) for v in chosen)
            self.forms[-1].options[self._select] = [v for v, _ in self._options]
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            self.forms[-1].fields.append((self._textarea, "".join(self._text).lstrip("\n")))
            self._textarea = None


def forms_of(page: str) -> list[Form]:
    parser = _Forms()
    parser.feed(page)
    return parser.forms


def main_form(page: str) -> Form | None:
    """The page's form, not the sign-out button in the header."""
    return next((f for f in forms_of(page) if not f.action.endswith("/logout")), None)


class Browser:
    def __init__(self, base: str, timeout: float = TIMEOUT):
        self.base, self.timeout = base, timeout
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect
        )

    def request(self, method: str, path: str, data: dict | None = None) -> Reply:
        body = None
        if method == "POST":
            body = urllib.parse.urlencode(data or {}, doseq=True).encode()
        req = urllib.request.Request(self.base + path, data=body, method=method)  # noqa: S310
        if body is not None:
            req.add_header("Content-Type", "application/x-www-form-urlencoded")
        start = time.perf_counter()
        try:
            payload, status, headers = self._exchange(req)
        except (OSError, http.client.HTTPException) as exc:  # refused, reset, timed out, cut
            return Reply(
                0, "", "", b"", time.perf_counter() - start, f"{type(exc).__name__}: {exc}"
            )
        return Reply(
            status,
            headers.get("Location", ""),
            headers.get("Content-Type", ""),
            payload,
            time.perf_counter() - start,
            retry_after=headers.get("Retry-After", ""),
        )

    def _exchange(self, req: urllib.request.Request):
        """Status, headers and body. A reply whose body is cut short (a worker killed between
        its headers and its body) raises here, wherever the status put it, so it counts as
        no reply rather than escaping the caller's thread."""
        try:
            with self.opener.open(req, timeout=self.timeout) as resp:
                return resp.read(), resp.status, resp.headers
        except urllib.error.HTTPError as exc:
            with exc:
                return exc.read(), exc.code, exc.headers

    def get(self, path: str) -> Reply:
        return self.request("GET", path)

    def post(self, path: str, data: dict) -> Reply:
        return self.request("POST", path, data)


class SignInFailed(RuntimeError):
    pass


def sign_in(browser: Browser, login: str, password: str, totp_seed: str) -> None:
    """Both steps, as a person would: the password, then the code their phone shows. Each
    code is accepted once per account, so a refused code waits for the next 30-second step."""
    page = browser.get("/login")
    form = main_form(page.text)
    if page.status != 200 or form is None:
        raise SignInFailed(f"{login}: GET /login answered {page.status}")
    resp = browser.post("/login", form.data(login=login, password=password))
    if resp.status != 302 or resp.location != "/login/code":
        raise SignInFailed(f"{login}: password step answered {resp.status} {resp.location}")
    for _ in range(3):
        page = browser.get("/login/code")
        form = main_form(page.text)
        if page.status != 200 or form is None:
            raise SignInFailed(f"{login}: GET /login/code answered {page.status}")
        resp = browser.post("/login/code", form.data(code=pyotp.TOTP(totp_seed).now()))
        if resp.status == 302 and resp.location != "/login/code":
            return
        time.sleep(31 - time.time() % 30)  # this step's code was used: the next one
    raise SignInFailed(f"{login}: code step answered {resp.status} {resp.location}")
