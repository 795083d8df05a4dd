"""Client names never travel in a URL or into the application log (issue 8; security matrix
U-01 "no PHI values" in the trail, S-01 no PHI in cookies, H-02, P-02).

Every client here is called Zyxwvut. Signed in as each role, the app is crawled from the home
page: no link, image, form action, redirect or refresh it generates carries the name, and no
form that a browser would send by GET (so into the URL, the history and the access log) holds
it in a field. The client search is a POST that renders its results (a name typed into it
never reaches a URL), finds by name and by MRN, and its results are not stored by the browser.
What the application logs while all this happens names no client, and neither does the log
of an unexpected database error whose statement carried the name.
"""

from __future__ import annotations

import logging
import re
from collections import Counter, deque
from html.parser import HTMLParser
from types import SimpleNamespace
from urllib.parse import unquote_plus, urljoin, urlsplit

import pytest
import sqlalchemy as sa
import time_machine

from casemgr.domain.roles import Role
from casemgr.extensions import db
from tests.clients_helpers import intake_form
from tests.test_isolation import NOW, build_clinic, consent_form, dap_form, hidden_fields

NAME = "Zyxwvut"
FIRST = "Quillon"  # Bravo's first name
SECRETS = (NAME.lower(), FIRST.lower())
NAMES = {
    key: {"legal_last_name": NAME, "legal_first_name": first, "preferred_name": f"{first}ie"}
    for key, first in {
        "bravo": FIRST,
        "bristow": "Hedda",
        "alpha": "Ines",
        "able": "Jory",
        "acorn": "Kesi",
    }.items()
}
# Downloads: their links are checked, but fetching them would only print records.
NOT_FETCHED = re.compile(r"(\.pdf|\.csv|\.zip|/download|/scan|/print)$")
PAGES_PER_ROLE = 400
VARIANTS_PER_PATH = 3  # ?day= and ?page= links chain on for ever: a few of each path suffice


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def w(clock, make) -> SimpleNamespace:
    w = build_clinic(make, NAMES)
    w.supervisor = make.user(Role.SUPERVISOR, full_name="Sam Supervisor")
    db.session.commit()
    return w


@pytest.fixture
def app_log(caplog):
    """What the application logs (its "casemgr" logger from INFO, anything from WARNING)."""
    caplog.set_level(logging.INFO, logger="casemgr")
    return caplog


def leaks(text: str | None) -> list[str]:
    """The names in `text`, read the way a log or address bar would show it (decoded)."""
    if not text:
        return []
    plain = unquote_plus(text).lower()
    return [name for name in SECRETS if name in plain]


def logged_names(caplog) -> list[str]:
    found = []
    for record in caplog.records:
        text = record.getMessage() + " " + (caplog.handler.format(record) or "")
        if leaks(text):
            found.append(f"{record.name}: {text[:300]}")
    return found


class Page(HTMLParser):
    """Every URL in a page, and the values of the fields of forms a browser sends by GET."""

    URL_ATTRS = {"href", "src", "action", "formaction", "poster", "data", "cite", "srcset"}

    def __init__(self):
        super().__init__()
        self.urls: list[tuple[str, str]] = []
        self.get_fields: list[str] = []
        self._get_form = False
        self._in_textarea = False

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        for name, value in a.items():
            if name in self.URL_ATTRS and value:
                self.urls.append((f"{tag}[{name}]", value))
        if tag == "meta" and a.get("http-equiv", "").lower() == "refresh":
            self.urls.append(("meta[refresh]", a.get("content", "")))
        if tag == "form":
            self._get_form = a.get("method", "get").lower() == "get"
        elif self._get_form and tag in ("input", "option", "button"):
            self.get_fields.append(a.get("value", ""))
        elif self._get_form and tag == "textarea":
            self._in_textarea = True

    def handle_endtag(self, tag):
        if tag == "form":
            self._get_form = False
        elif tag == "textarea":
            self._in_textarea = False

    def handle_data(self, data):
        if self._in_textarea:
            self.get_fields.append(data)


def crawl(client, starts: list[str]) -> tuple[list[str], Counter]:
    """Follow every same-site GET link from `starts`; return the problems found and how many
    pages of each kind were read."""
    problems: list[str] = []
    queue, seen, variants = deque(starts), set(), Counter()
    read: Counter = Counter()
    while queue and len(seen) < PAGES_PER_ROLE:
        url = queue.popleft()
        path = urlsplit(url).path
        if url in seen or variants[path] >= VARIANTS_PER_PATH:
            continue
        seen.add(url)
        variants[path] += 1
        resp = client.get(url)
        read[resp.status_code] += 1
        found = [("Location", resp.headers.get("Location", ""))]
        found.append(("Refresh", resp.headers.get("Refresh", "")))
        if resp.mimetype == "text/html":
            page = Page()
            page.feed(resp.get_data(as_text=True))
            found += page.urls
            problems += [
                f"{url}: a GET form carries {leaks(value)}"
                for value in page.get_fields
                if leaks(value)
            ]
        for kind, target in found:
            if leaks(target):
                problems.append(f"{url}: {kind} {target}")
            follow = urljoin(url, target.split("#")[0]) if target else ""
            if (
                kind in ("a[href]", "Location", "img[src]")
                and follow.startswith("/")
                and not follow.startswith(("/static/", "/logout"))
                and not NOT_FETCHED.search(urlsplit(follow).path)
            ):
                queue.append(follow)
    return problems, read


def chart_pages(w) -> list[str]:
    """Starting points besides the home page: the clients' charts (linked from the home
    page and the client list only for some roles)."""
    people = (w.bravo, w.bristow, w.alpha, w.able, w.acorn)
    return ["/", "/clients/"] + [f"/clients/{p.id}" for p in people]


@pytest.mark.parametrize(
    "who", ["manager", "theirs", "mine", "nurse", "physician", "supervisor", "admin"]
)
def test_no_generated_url_names_a_client(client, auth, w, app_log, who):
    auth.login(getattr(w, who))
    problems, read = crawl(client, chart_pages(w))
    assert problems == []
    assert read[200] >= (5 if who == "admin" else 25), read  # the crawl did walk the app
    assert logged_names(app_log) == []


def test_the_crawl_reaches_the_records_that_show_the_name(client, auth, w):
    """The control: the pages walked above do show the name, just never in a URL."""
    auth.login(w.theirs)
    for url in (f"/clients/{w.bravo.id}", f"/notes/{w.b_note.id}", f"/consents/{w.b_consent.id}"):
        assert NAME in client.get(url).text, url


def test_search_posts_and_renders_its_results(client, auth, w, app_log):
    """The search is a POST that renders the results: the name typed in stays in the body.
    It finds by (partial, any case) name and by MRN; its results page is never stored."""
    auth.login(w.theirs)
    form = client.get("/clients/").text
    assert re.search(r'<form method="post"[^>]*role="search"', form)
    assert 'name="q"' in form and 'type="search"' in form
    for query in ("zyxw", f"{NAME}, {FIRST}".split(",")[0], FIRST.upper(), w.bravo.mrn):
        resp = client.post("/clients/", data={"q": query})
        assert resp.status_code == 200, query
        assert f"<bdi>{NAME}, {FIRST}</bdi>" in resp.text, query
        assert "no-store" in resp.headers["Cache-Control"]
        page = Page()
        page.feed(resp.text)
        assert [u for _, u in page.urls if leaks(u)] == [], query
        assert [v for v in page.get_fields if leaks(v)] == [], query
    by_mrn = client.post("/clients/", data={"q": w.bravo.mrn}).text
    assert by_mrn.count(f"<bdi>{NAME}, ") == 1  # Bravo only (Bristow has another MRN)
    # The query string is not a search: a bookmarked ?q= finds nothing and is not echoed.
    resp = client.get(f"/clients/?q={NAME}")
    assert resp.status_code == 200 and f'value="{NAME}"' not in resp.text
    assert logged_names(app_log) == []


def test_writing_records_redirects_to_ids_only(client, auth, w, app_log):
    """After a save, the app redirects to the record by id; a flash message may name the
    client (it is shown, never put in the URL)."""
    auth.login(w.mine)
    posts = [
        ("/clients/new", intake_form(counselor=str(w.mine.id), legal_last_name=NAME)),
        (f"/clients/{w.alpha.id}/edit", intake_form(legal_last_name=NAME, phone="555-0101")),
        (f"/notes/new/{w.a_episode.id}?format=dap", dap_form(section_data=f"Saw {NAME}.")),
        (
            f"/consents/clients/{w.alpha.id}/new",
            consent_form(typed_signature=f"José {NAME}"),  # as the face sheet now says
        ),
        (
            f"/aftercare/{w.e_episode.id}/relapse",
            {
                "kind": "relapse",
                "used_on": "2026-11-22",
                "substance": "alcohol",
                "circumstances": f"{NAME} went to a wedding.",
                "trigger": "",
                "response": "return_to_rehab",
            },
        ),
    ]
    for url, body in posts:
        page = client.get(url).text
        resp = client.post(url, data=hidden_fields(page) | body)
        assert resp.status_code == 302, (url, resp.text[:2000])
        assert leaks(resp.headers["Location"]) == [], url
        landing = client.get(resp.headers["Location"])
        assert landing.status_code == 200
        parsed = Page()
        parsed.feed(landing.text)
        assert [u for _, u in parsed.urls if leaks(u)] == [], url
    report = client.post(
        f"/print/clients/{w.alpha.id}/progress",
        data={"purpose": "Court review", "start": "2026-11-01", "end": "2026-11-25"},
    )
    assert report.mimetype == "application/pdf"
    assert leaks(report.headers["Content-Disposition"]) == []  # the file is named by MRN
    assert logged_names(app_log) == []


def test_a_failed_print_logs_the_client_id_not_the_name(client, auth, w, app_log, monkeypatch):
    from casemgr.printing import record

    def broken(session, row):
        raise RuntimeError("font went missing")

    monkeypatch.setitem(record.RENDERERS, "progress", broken)
    auth.login(w.mine)
    resp = client.post(
        f"/print/clients/{w.alpha.id}/progress",
        data={"purpose": "Court review", "start": "2026-11-01", "end": "2026-11-25"},
    )
    assert resp.status_code == 200 and "could not be produced" in resp.text
    assert f"client {w.alpha.id} failed" in app_log.text
    assert logged_names(app_log) == []


def test_an_unexpected_database_error_logs_no_row_values(app_factory, make, clock, caplog):
    """Whatever a failing statement carried (here a client's name), the logged error shows
    the statement, not its values: SQLAlchemy's parameters are hidden, and PostgreSQL's
    "Failing row contains (...)" detail is left out of the log."""
    from casemgr.clients import services

    app = app_factory(PROPAGATE_EXCEPTIONS=False, TESTING=False)
    caplog.set_level(logging.INFO, logger="casemgr")
    with app.app_context():
        w = build_clinic(make, NAMES)
        client = app.test_client()
        from tests.conftest import Auth

        Auth(client, make).login(w.mine)

        def failing_update(session, person, sheet, *, today):
            # A statement that breaks a NOT NULL rule, with the client's name bound to it.
            session.execute(
                sa.text("INSERT INTO clients (legal_last_name, legal_first_name) VALUES (:a, :b)"),
                {"a": person.legal_last_name, "b": person.legal_first_name},
            )

        original = services.update
        services.update = failing_update
        try:
            url = f"/clients/{w.alpha.id}/edit"
            page = client.get(url).text
            resp = client.post(url, data=hidden_fields(page) | intake_form(legal_last_name=NAME))
        finally:
            services.update = original
        assert resp.status_code == 500
        assert NAME not in resp.text
        db.session.remove()
    assert "unhandled error" in caplog.text and "IntegrityError" in caplog.text
    assert logged_names(caplog) == []
