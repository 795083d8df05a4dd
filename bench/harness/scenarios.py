"""What each row measures: the requests wrk sends for a page or a write, and the single,
timed requests of the heavy rows (a full-year progress report, a 200-client batch)."""

from __future__ import annotations

import os
import secrets
import time
import urllib.parse
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from casemgr.domain.withdrawal import COWS

from .client import Browser
from .database import Targets
from .wrk import Load, Request

COWS_ITEMS = dict(zip(COWS.keys, (2, 2, 3, 2, 1, 2, 2, 1, 1, 1, 3), strict=True))


@dataclass
class Scenario:
    key: str
    label: str
    role: str  # whose cookie: manager, counselor, nurse, note_writer, cows_writer or anonymous
    load: Load
    goal: bool = True  # held to "at least 30 % of the floor"
    write: bool = False


def facility_now() -> datetime:
    return datetime.now(ZoneInfo(os.environ.get("CASEMGR_TIMEZONE", "America/New_York")))


def encode(fields: dict) -> str:
    return urllib.parse.urlencode(fields, doseq=True)


def signin(browser: Browser, login: str, password: str) -> Scenario:
    """The password step of signing in (argon2id, a pending session, an audit event). The
    code step is left out: a TOTP code is accepted once per login per 30-second step."""
    token = browser.csrf("/login")
    body = encode({"csrf_token": token, "login": login, "password": password})
    load = Load([Request("POST", "/login", body)], expected=302, cookie=browser.cookie())
    return Scenario("signin", "sign-in (password step)", "anonymous", load)


def pages(b: dict[str, Browser], t: Targets) -> list[Scenario]:
    manager, counselor, nurse = b["manager"], b["counselor"], b["nurse"]
    token = manager.csrf("/clients/")
    searches = [
        Request("POST", "/clients/", encode({"csrf_token": token, "q": term}))
        for term in t.search_terms
    ]
    charts = [Request("GET", f"/clients/{cid}") for cid in t.chart_clients]
    # Labels carry the real sizes: a site's census and detox board (a network-wide one's
    # when the data has no sites, as with the demo facility).
    site_manager = "site manager" if t.manager_site else "manager"
    site_board = "site detox board" if t.nurse_site else "detox board"
    return [
        Scenario("census", f"{site_manager} home (census, {t.census})", "manager",
                 Load([Request("GET", "/home/clinic_manager")], cookie=manager.cookie())),
        Scenario("caseload", f"counselor caseload ({t.caseload})", "counselor",
                 Load([Request("GET", "/home/counselor")], cookie=counselor.cookie())),
        Scenario("chart", "client chart", "counselor", Load(charts, cookie=counselor.cookie())),
        Scenario("detox_board", f"{site_board} ({len(t.detox_episodes)})", "nurse",
                 Load([Request("GET", "/detox/board")], cookie=nurse.cookie())),
        Scenario("search", "client search", "manager", Load(searches, cookie=manager.cookie())),
        # Not a goal row: what any signed-in page costs before its content (session check,
        # layout, a form), so the page rows can be read against it.
        Scenario("signed_in", "signed-in page, no records", "counselor",
                 Load([Request("GET", "/account/password")], cookie=counselor.cookie()),
                 goal=False),
    ]  # fmt: skip


def writes(b: dict[str, Browser], t: Targets) -> list[Scenario]:
    counselor, nurse = b["note_writer"], b["cows_writer"]
    yesterday = (facility_now() - timedelta(days=1)).date().isoformat()
    note = counselor.form_fields(f"/notes/new/{t.note_episodes[0]}?format=dap")
    note |= {
        "session_date": yesterday, "start_time": "09:00", "end_time": "09:50",
        "session_type": "individual", "setting": "on_site", "location": "Room 4",
        "attendance": "attended", "section_data": "Bench: reports cravings 4/10.",
        "section_assessment": "Bench: engaged.", "section_plan": "Bench: next session Friday.",
        "cravings": "4", "use_since_last": "none", "medication_adherence": "adherent",
        "meetings_attended": "2", "safety_risk": "low",
    }  # fmt: skip
    notes = [Request("POST", f"/notes/new/{ep}?format=dap", encode(note)) for ep in t.note_episodes]
    cows = nurse.form_fields(f"/detox/{t.cows_episodes[0]}/cows")
    at = (facility_now() - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M")
    cows |= {"assessed_at": at, "reason": "scheduled", "temperature_unit": "C"}
    cows |= {k: str(v) for k, v in COWS_ITEMS.items()}
    assessments = [Request("POST", f"/detox/{ep}/cows", encode(cows)) for ep in t.cows_episodes]
    return [
        Scenario("note_write", "write a session note", "note_writer",
                 Load(notes, expected=302, cookie=counselor.cookie()), write=True),
        Scenario("cows_write", "record a COWS assessment", "cows_writer",
                 Load(assessments, expected=302, cookie=nurse.cookie()), write=True),
    ]  # fmt: skip


def check(browser: Browser, scenario: Scenario) -> float:
    """Send the scenario's first request once, alone, and insist on its expected status, so a
    broken form or an expired cookie fails here instead of producing a fast row of errors.
    Returns how long it took (a page too slow for wrk's timeout still gets a figure)."""
    r = scenario.load.requests[0]
    fields = dict(urllib.parse.parse_qsl(r.body, keep_blank_values=True))
    resp = browser.request(r.method, r.path, fields if r.method == "POST" else None)
    if resp.status != scenario.load.expected:
        snippet = " ".join(resp.text.split())[:600]
        raise RuntimeError(f"{scenario.key}: {r.method} {r.path} answered {resp.status}: {snippet}")
    return resp.seconds


def progress_report(manager: Browser, client_id: int, reps: int) -> dict:
    """A full-year progress report PDF, timed `reps` times one after another."""
    end = facility_now().date()
    fields = manager.form_fields(f"/print/clients/{client_id}/progress")
    fields |= {"purpose": "Bench timing", "start": (end - timedelta(days=364)).isoformat(),
               "end": end.isoformat()}  # fmt: skip
    times, sizes = [], []
    for _ in range(reps):
        resp = manager.post(f"/print/clients/{client_id}/progress", fields)
        if resp.status != 200 or not resp.body.startswith(b"%PDF"):
            raise RuntimeError(f"progress report answered {resp.status}")
        times.append(resp.seconds)
        sizes.append(len(resp.body))
    return _timings(times) | {"client_id": client_id, "pdf_bytes": max(sizes)}


def batch(manager: Browser, db_url: str, selection: tuple[str, str, int], timeout: float) -> dict:
    """A batch of progress reports: the time from the click until 200 reports are printed
    (the batch row's `done`), and until the whole batch is done if it ends within `timeout`."""
    scope, value, _ = selection
    fields = manager.form_fields("/print/batches/new")
    fields |= {"scope": scope, scope: value, "output": "combined", "purpose": "Bench timing"}
    fields["request_key"] = secrets.token_urlsafe(32)
    start = time.perf_counter()
    resp = manager.post("/print/batches/new", fields)
    if resp.status != 302 or "/print/batches/" not in resp.location:
        raise RuntimeError(f"batch request answered {resp.status}")
    batch_id = int(resp.location.rstrip("/").rsplit("/", 1)[1])
    engine = sa.create_engine(db_url)
    query = sa.text("SELECT status, total, done, error FROM report_batches WHERE id = :id")
    first_200 = None
    try:
        while True:
            with engine.connect() as conn:
                status, total, done, error = conn.execute(query, {"id": batch_id}).one()
            elapsed = time.perf_counter() - start
            if first_200 is None and done >= min(200, total or 200):
                first_200 = elapsed
            if status in ("done", "failed") or elapsed > timeout:
                break
            time.sleep(0.5)
    finally:
        engine.dispose()
    return {
        "seconds": round(elapsed, 2),
        "status": status if status in ("done", "failed") else f"{status} (stopped waiting)",
        "first_200_s": round(first_200, 2) if first_200 is not None else None,
        "clients": total, "printed": done, "selection": f"{scope}={value}", "error": error,
        "per_client_ms": round(1000 * elapsed / max(done, 1), 1),
    }  # fmt: skip


def _timings(seconds: list[float]) -> dict:
    ms = sorted(round(s * 1000, 1) for s in seconds)
    return {"runs_ms": ms, "p50_ms": ms[len(ms) // 2], "max_ms": ms[-1]}


def today() -> date:
    return facility_now().date()
