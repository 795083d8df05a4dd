"""The clinic's mix: what each simulated staff member does, how often, and what counts as a
success. Every save acknowledged by the app (the redirect after a save) goes into the ledger
with a marker that the post-run check looks for in the database."""

from __future__ import annotations

import random
import re
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from .client import Browser, Reply, main_form, sign_in

# Relative weights per role. Reads dominate; writes are notes, COWS and MAR doses; a few
# progress-report PDFs and searches.
WEIGHTS: dict[str, dict[str, int]] = {
    "nurse": {
        "home": 10,
        "board": 15,
        "chart": 20,
        "detox": 10,
        "caseload": 5,
        "search": 5,
        "note": 8,
        "cows": 12,
        "dose": 10,
    },  # fmt: skip
    "physician": {
        "home": 10,
        "board": 20,
        "chart": 25,
        "detox": 15,
        "caseload": 5,
        "search": 5,
        "note": 10,
        "cows": 10,
    },  # fmt: skip
    "counselor": {"home": 15, "caseload": 15, "chart": 37, "search": 10, "note": 20, "pdf": 3},
    "clinic_manager": {
        "home": 20,
        "board": 15,
        "caseload": 15,
        "chart": 30,
        "search": 10,
        "pdf": 10,
    },  # fmt: skip
}
WRITES = ("note", "cows", "dose")
SEARCH_TERMS = ("demo", "load", "Lindqvist", "C00", "Rowan", "1991-03-14", "Demo-Load")
MARKER = "LT"
CHARTS_FIRST = 3  # charts a counselor opens while settling in


@dataclass
class Sample:
    kind: str
    status: int
    seconds: float
    ok: bool


@dataclass
class Recorder:
    """Latencies and failures of every request, thread-safe."""

    samples: list[Sample] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    server_errors: list[tuple[str, int, str]] = field(default_factory=list)  # kind, status, page
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, reply: Reply, ok: bool, why: str = "") -> None:
        with self.lock:
            self.samples.append(Sample(kind, reply.status, reply.seconds, ok))
            if not ok and len(self.failures) < 200:
                self.failures.append(f"{kind}: {reply.status} {why or reply.error}".strip())
            if reply.status >= 500 and len(self.server_errors) < 500:
                self.server_errors.append((kind, reply.status, reply.text))


@dataclass
class Ledger:
    """Acknowledged writes: what the database must hold afterwards."""

    notes: dict[int, str] = field(default_factory=dict)  # note id -> marker in its sections
    doses: set[str] = field(default_factory=set)  # markers in medication_administrations.note
    assessments: set[tuple] = field(default_factory=set)  # (login, episode, sys, dia, hr)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self) -> int:
        return len(self.notes) + len(self.doses) + len(self.assessments)


def _page_error(reply: Reply) -> str:
    """The first error message on a refused form, for the report."""
    found = re.search(r'class="(?:error|flash[^"]*error[^"]*)"[^>]*>(.*?)<', reply.text, re.S)
    return found.group(1).strip()[:160] if found else ""


class Staff:
    """One simulated staff member in their own browser."""

    def __init__(self, base: str, login: str, role: str, password: str, seed: str, *,
                 run_id: str, recorder: Recorder, ledger: Ledger, rng: random.Random):  # fmt: skip
        self.browser = Browser(base)
        self.login, self.role, self.password, self.seed = login, role, password, seed
        self.run_id, self.recorder, self.ledger, self.rng = run_id, recorder, ledger, rng
        self.clients: list[int] = []
        self.detox_episodes: list[int] = []
        self.note_episodes: set[int] = set()
        self.prn_orders: dict[int, list[int]] = {}
        self.counter = 0
        self.last: Reply | None = None  # the latest reply, whatever the action

    # --- setting up -----------------------------------------------------------------------

    def sign_in(self) -> None:
        sign_in(self.browser, self.login, self.password, self.seed)

    def discover(self) -> None:
        """What this person can reach: their client list, the detox board, and from each
        chart the episodes they may write notes for."""
        page = self._get("caseload", "/clients/")
        self.clients = sorted({int(i) for i in re.findall(r'href="/clients/(\d+)"', page.text)})
        if "board" in WEIGHTS[self.role]:
            page = self._get("board", "/detox/board")
            self.detox_episodes = sorted(
                {int(i) for i in re.findall(r'href="/detox/(\d+)"', page.text)}
            )
        if self.role in ("nurse", "physician"):  # nursing notes for anyone in detox
            self.note_episodes.update(self.detox_episodes)
        elif self.role == "counselor":  # notes for their caseload, linked from the chart
            for client_id in self.clients[:CHARTS_FIRST]:
                self._chart(client_id)

    # --- the loop -------------------------------------------------------------------------

    def run(self, until: float, think: float, *, weights: dict[str, int] | None = None,
            stop: threading.Event | None = None) -> None:  # fmt: skip
        kinds, chances = zip(*(weights or WEIGHTS[self.role]).items(), strict=True)
        while time.monotonic() < until and not (stop and stop.is_set()):
            self.act(self.rng.choices(kinds, chances)[0])
            pause = self.rng.uniform(0, 2 * think) if think > 0 else 0.0
            if self.last is not None and self.last.status == 0:
                pause = max(pause, 0.2)  # the server is gone: do not spin
            time.sleep(pause)

    def act(self, kind: str) -> Reply | None:
        return getattr(self, f"do_{kind}")()

    # --- reads ----------------------------------------------------------------------------

    def do_home(self) -> Reply:
        return self._get("home", f"/home/{self.role}")

    def do_board(self) -> Reply:
        return self._get("board", "/detox/board")

    def do_caseload(self) -> Reply:
        return self._get("caseload", "/clients/")

    def do_chart(self) -> Reply | None:
        return self._chart(self.rng.choice(self.clients)) if self.clients else None

    def do_detox(self) -> Reply | None:
        if not self.detox_episodes:
            return None
        return self._get("detox", f"/detox/{self.rng.choice(self.detox_episodes)}")

    def do_search(self) -> Reply | None:
        page = self._get("form", "/clients/")
        form = main_form(page.text)
        if form is None:
            return None
        data = form.data(q=self.rng.choice(SEARCH_TERMS))
        return self._send("search", "/clients/", data, expect=200)

    def do_pdf(self) -> Reply | None:
        if not self.clients:
            return None
        path = f"/print/clients/{self.rng.choice(self.clients)}/progress"
        form = self._form(path)
        if form is None:
            return None
        reply = self.last = self.browser.post(path, form.data(purpose="Treatment team review"))
        ok = reply.status == 200 and reply.content_type.startswith("application/pdf")
        self.recorder.add("pdf", reply, ok, _page_error(reply))
        return reply

    # --- writes ---------------------------------------------------------------------------

    def marker(self) -> str:
        self.counter += 1
        return f"{MARKER}-{self.run_id}-{self.login}-{self.counter}"

    def do_note(self) -> Reply | None:
        if not self.note_episodes:
            return None
        episode = self.rng.choice(sorted(self.note_episodes))
        nursing = self.role in ("nurse", "physician")
        path = f"/notes/new/{episode}?format={'nursing' if nursing else 'dap'}"
        form = self._form(path)
        if form is None:
            return None
        marker = self.marker()
        shown = dict(form.fields).get("session_date") or date.today().isoformat()
        day = date.fromisoformat(shown) - timedelta(days=1)
        text = {"section_note": f"Observed resting, vitals stable. {marker}"} if nursing else {
            "section_data": f"Reports cravings 4/10. {marker}",
            "section_assessment": "Engaged, names triggers.",
            "section_plan": "Continue; next session Friday.",
        }  # fmt: skip
        data = form.data(
            session_date=day.isoformat(), start_time="09:00", end_time="09:50",
            session_type="nursing" if nursing else "individual", setting="on_site",
            attendance="attended", **text,
        )  # fmt: skip
        reply = self._send("note", form.action or path, data, expect=302)
        found = re.fullmatch(r"/notes/(\d+)", reply.location or "")
        if reply.status == 302 and found:
            with self.ledger.lock:
                self.ledger.notes[int(found.group(1))] = marker
        elif reply.status == 302:
            self.recorder.failures.append(f"note: redirected to {reply.location}")
        return reply

    def do_cows(self) -> Reply | None:
        if not self.detox_episodes:
            return None
        episode = self.rng.choice(self.detox_episodes)
        path = f"/detox/{episode}/cows"
        form = self._form(path)
        if form is None:
            return None
        self.counter += 1
        k = self.counter
        vitals = {"systolic": 100 + k // 40 % 40, "diastolic": 60 + k // 1600 % 30,
                  "heart_rate": 60 + k % 40}  # fmt: skip
        items = {
            name: self.rng.choice(values[1:3])
            for name, values in form.options.items()
            if values and values[0] == "" and name not in ("reason", "temperature_unit")
        }
        data = form.data(
            **items, **{n: str(v) for n, v in vitals.items()}, respiratory_rate="16",
            temperature="36.8", temperature_unit="C", spo2="97", pain="2",
        )  # fmt: skip
        reply = self._send("cows", path, data, expect=302)
        if reply.status == 302:
            key = (self.login, episode, vitals["systolic"], vitals["diastolic"],
                   vitals["heart_rate"])  # fmt: skip
            with self.ledger.lock:
                self.ledger.assessments.add(key)
        return reply

    def do_dose(self) -> Reply | None:
        if not self.detox_episodes:
            return None
        episode = self.rng.choice(self.detox_episodes)
        if episode not in self.prn_orders:
            page = self._get("mar", f"/mar/{episode}")
            ids = re.findall(r'href="/mar/orders/(\d+)/give"', page.text)
            self.prn_orders[episode] = sorted({int(i) for i in ids})
        if not self.prn_orders[episode]:
            return None
        path = f"/mar/orders/{self.rng.choice(self.prn_orders[episode])}/give"
        form = self._form(path)
        if form is None:
            return None
        marker = self.marker()
        data = form.data(outcome="refused", reason="Client declined the dose.", note=marker)
        reply = self._send("dose", path, data, expect=302)
        if reply.status == 302:
            with self.ledger.lock:
                self.ledger.doses.add(marker)
        return reply

    # --- helpers --------------------------------------------------------------------------

    def _get(self, kind: str, path: str) -> Reply:
        reply = self.last = self.browser.get(path)
        self.recorder.add(kind, reply, reply.status == 200, _page_error(reply))
        return reply

    def _send(self, kind: str, path: str, data: dict, *, expect: int) -> Reply:
        reply = self.last = self.browser.post(path, data)
        self.recorder.add(kind, reply, reply.status == expect, _page_error(reply))
        return reply

    def _form(self, path: str):
        page = self._get("form", path)
        return main_form(page.text) if page.status == 200 else None

    def _chart(self, client_id: int) -> Reply:
        page = self._get("chart", f"/clients/{client_id}")
        self.note_episodes.update(int(i) for i in re.findall(r'href="/notes/new/(\d+)', page.text))
        return page


def summarize(samples: list[Sample]) -> dict[str, dict]:
    """Count, errors and p50/p95/p99 (ms) per kind and overall."""
    groups: dict[str, list[Sample]] = defaultdict(list)
    for s in samples:
        groups[s.kind].append(s)
        groups["all"].append(s)
    out = {}
    for kind, group in sorted(groups.items(), key=lambda kv: (kv[0] == "all", kv[0])):
        times = sorted(s.seconds * 1000 for s in group)
        out[kind] = {
            "requests": len(group),
            "errors": sum(not s.ok for s in group),
            "p50_ms": round(_pct(times, 50), 1),
            "p95_ms": round(_pct(times, 95), 1),
            "p99_ms": round(_pct(times, 99), 1),
            "max_ms": round(times[-1], 1) if times else 0.0,
        }
    return out


def _pct(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    if not sorted_values:
        return 0.0
    rank = max(1, -(-len(sorted_values) * p // 100))
    return sorted_values[int(rank) - 1]
