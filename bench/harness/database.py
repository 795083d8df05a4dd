"""The bench databases: create, migrate and fill them (bench-data when the command exists,
the demo facility otherwise), reuse one whose recorded size matches, and find the people and
records each scenario needs."""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import sqlalchemy as sa

from .server import REPO

FLASK = REPO / ".venv" / "bin" / "flask"
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/casemgr_bench"
# One password and one TOTP seed for every login of a throwaway bench database.
PASSWORD = "quiet harness timing loopback pages"  # noqa: S105
TOTP_SEED = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


@dataclass
class BenchDb:
    kind: str  # "sqlite" or "postgresql"
    url: str
    instance: Path

    @property
    def env(self) -> dict[str, str]:
        return {
            "FLASK_APP": "casemgr",
            "CASEMGR_DATABASE_URL": self.url,
            "CASEMGR_INSTANCE_PATH": str(self.instance),
        }

    @property
    def state_file(self) -> Path:
        return self.instance / "bench-state.json"

    def state(self) -> dict:
        try:
            return json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return {}


def locate(kind: str, root: Path, clients: int) -> BenchDb:
    """One instance folder (keys, state, the SQLite file) and one PostgreSQL database per
    size, so a 5,000- and a 50,000-client database can both be kept for reuse."""
    instance = root / f"{kind}-{clients}"
    if kind == "sqlite":
        return BenchDb(kind, f"sqlite:///{instance / 'casemgr.sqlite3'}", instance)
    url = os.environ.get("BENCH_PG_URL") or f"{DEFAULT_PG}_{clients}"
    return BenchDb(kind, url, instance)


def postgres_problem(clients: int) -> str | None:
    """Why the PostgreSQL bench cannot run (the server is not reachable), or None."""
    url = sa.engine.make_url(locate("postgresql", Path("."), clients).url)
    engine = sa.create_engine(url.set(database="postgres"))
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError as exc:
        return (
            f"PostgreSQL is not reachable at {url.render_as_string(hide_password=True)} "
            f"({type(exc.orig or exc).__name__}); start it (pg_ctlcluster 15 main start) "
            "or set BENCH_PG_URL"
        )
    finally:
        engine.dispose()
    return None


def bench_data_available() -> bool:
    """Whether `flask bench-data` exists (read from the source: starting flask costs seconds)."""
    cli = REPO / "casemgr" / "cli.py"
    return (REPO / "casemgr" / "benchdata" / "cli.py").exists() and "bench_data_command" in (
        cli.read_text()
    )


def prepare(db: BenchDb, clients: int, log=print) -> dict:
    """A migrated, filled bench database; reused when its recorded size and generator match."""
    generator = "bench-data" if bench_data_available() else "demo"
    want = {"clients": clients if generator == "bench-data" else "demo", "generator": generator}
    state = db.state()
    if state and all(state.get(k) == v for k, v in want.items()) and _reachable(db):
        log(f"[{db.kind}] reusing the bench database ({generator}, {want['clients']} clients)")
        _flask(db, "db", "upgrade")  # a database built before the latest migration
        return _analyzed(db, state)
    log(f"[{db.kind}] building the bench database with {generator} ({want['clients']} clients)")
    _recreate(db)
    _flask(db, "db", "upgrade")
    start = time.monotonic()
    if generator == "bench-data":
        _flask(db, "bench-data", "--clients", str(clients), "--password", PASSWORD,
               "--totp-seed", TOTP_SEED)  # fmt: skip
        state = {**want, "password": PASSWORD, "totp_seed": TOTP_SEED, "prefix": "bench-"}
    else:
        _flask(db, "demo", "--password", PASSWORD, "--totp-seed", TOTP_SEED)
        state = {**want, "password": PASSWORD, "totp_seed": TOTP_SEED, "prefix": "demo-"}
    state["generated_seconds"] = round(time.monotonic() - start, 1)
    _save(db, state)
    return _analyzed(db, state)


def _save(db: BenchDb, state: dict) -> None:
    db.state_file.write_text(json.dumps(state, indent=2))
    db.state_file.chmod(0o600)


def _analyzed(db: BenchDb, state: dict) -> dict:
    """PostgreSQL after a bulk load: VACUUM ANALYZE once, as autovacuum would do in time, so
    the planner works from real statistics (its estimates are far off without them)."""
    if db.kind != "postgresql" or state.get("analyzed"):
        return state
    engine = sa.create_engine(db.url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("VACUUM ANALYZE"))
    finally:
        engine.dispose()
    state["analyzed"] = True
    _save(db, state)
    return state


def _flask(db: BenchDb, *args: str) -> str:
    proc = subprocess.run(  # noqa: S603  (fixed argument list, no shell)
        [str(FLASK), *args],
        cwd=REPO,
        env={**os.environ, **db.env},
        capture_output=True,
        text=True,
        timeout=int(os.environ.get("BENCH_BUILD_TIMEOUT", "3600")),
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"flask {' '.join(args)} failed:\n{proc.stdout[-2000:]}{proc.stderr[-3000:]}"
        )
    return proc.stdout


def _reachable(db: BenchDb) -> bool:
    if db.kind == "sqlite":
        return Path(db.url.removeprefix("sqlite:///")).exists()
    try:
        with sa.create_engine(db.url).connect() as conn:
            conn.execute(sa.text("SELECT 1 FROM clients LIMIT 1"))
        return True
    except sa.exc.SQLAlchemyError:
        return False


def _recreate(db: BenchDb) -> None:
    """An empty database and an empty instance folder (new keys go with new data)."""
    db.instance.mkdir(parents=True, exist_ok=True, mode=0o700)
    for name in (
        "casemgr.sqlite3",
        "casemgr.sqlite3-wal",
        "casemgr.sqlite3-shm",
        "bench-state.json",
    ):
        (db.instance / name).unlink(missing_ok=True)
    for key in ("secret_key", "audit_key", "totp_key"):
        (db.instance / key).unlink(missing_ok=True)
    if db.kind == "postgresql":
        url = sa.engine.make_url(db.url)
        name = url.database
        if not name or "bench" not in name:
            raise RuntimeError(
                f"refusing to recreate {name!r}: a bench database's name contains 'bench'"
            )
        admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        admin.dispose()


def server_version(db: BenchDb) -> str:
    engine = sa.create_engine(db.url)
    try:
        with engine.connect() as conn:
            if db.kind == "sqlite":
                return "SQLite " + conn.execute(sa.text("select sqlite_version()")).scalar()
            return conn.execute(sa.text("show server_version")).scalar()
    finally:
        engine.dispose()


@dataclass
class Targets:
    manager: str  # a site's clinic manager when the data has sites (bench-data does)
    counselor: str
    nurse: str  # a site's nurse when the data has sites: her board is her site's detox unit
    # The write rows are another counselor's and another site's nurse's: what they add (a
    # thousand notes and assessments a run) must not slow the page rows of the next run.
    note_writer: str
    cows_writer: str
    signin: str  # the login whose password step the sign-in row repeats
    caseload: int
    chart_clients: list[int]
    note_episodes: list[int]  # the note writer's open episodes
    detox_episodes: list[int]  # open detox episodes the nurse's board lists
    cows_episodes: list[int]  # open detox episodes at the COWS writer's site
    census: int  # open episodes in the manager's census (her site's, or all)
    nurse_site: str | None  # the sites' codes (None: network-wide, as in the demo)
    manager_site: str | None
    search_terms: list[str]
    report_client: int
    report_notes: int
    clients: int
    batch: tuple[str, str, int]  # scope, value, clients: the smallest selection of 200+


def _scalars(conn, sql: str, **params) -> list:
    return list(conn.execute(sa.text(sql), params).scalars())


def find_targets(db: BenchDb, prefix: str) -> Targets:
    engine = sa.create_engine(db.url)
    try:
        with engine.connect() as conn:
            return _targets(conn, prefix)
    finally:
        engine.dispose()


def _staff(conn, role: str, prefix: str) -> list[tuple[int, str]]:
    rows = conn.execute(
        sa.text(
            "SELECT u.id, u.login FROM users u JOIN user_roles r ON r.user_id = u.id "
            "WHERE r.role = :role AND u.login LIKE :prefix AND u.active ORDER BY u.login"
        ),
        {"role": role, "prefix": prefix + "%"},
    )
    return [tuple(r) for r in rows]


def _site_staff(conn, role: str, prefix: str, offset: int = 0) -> tuple[str, int | None]:
    """The first (by login) active member of `role` who works at a site, and the site; when
    nobody has one (the demo facility has no sites), the first network-wide one and None.
    With `offset` 1, the first of another site (or the next one, or the same one if alone)."""
    rows = conn.execute(
        sa.text(
            "SELECT u.login, u.site_id FROM users u JOIN user_roles r ON r.user_id = u.id "
            "WHERE r.role = :role AND u.login LIKE :prefix AND u.active "
            "ORDER BY u.site_id IS NULL, u.login"
        ),
        {"role": role, "prefix": prefix + "%"},
    ).all()
    first = rows[0]
    others = [r for r in rows[1:] if r[1] != first[1]] or rows[1:] or rows
    row = first if offset == 0 else others[0]
    return row[0], row[1]


def _detox_at(conn, site: int | None) -> list[int]:
    return list(
        conn.execute(
            _at_site(
                "SELECT id FROM episodes WHERE phase = 'detox' AND discharged_on IS NULL"
                "{at_site} ORDER BY id",
                "site_id",
                site,
            ),
            {"site": site},
        ).scalars()
    )


def _site_code(conn, site: int | None) -> str | None:
    if site is None:
        return None
    return conn.execute(sa.text("SELECT code FROM sites WHERE id = :id"), {"id": site}).scalar()


def _at_site(sql: str, column: str, site: int | None) -> sa.TextClause:
    """`sql` with its `{at_site}` limiting `column` to the bound `:site` (dropped for a
    network-wide user)."""
    return sa.text(sql.replace("{at_site}", "" if site is None else f" AND {column} = :site"))


def _targets(conn, prefix: str) -> Targets:
    open_by = dict(
        conn.execute(
            sa.text(
                "SELECT primary_counselor_id, count(*) FROM episodes "
                "WHERE discharged_on IS NULL AND primary_counselor_id IS NOT NULL "
                "GROUP BY primary_counselor_id"
            )
        ).all()
    )
    counselors = _staff(conn, "counselor", prefix)
    by_caseload = sorted(counselors, key=lambda u: (abs(open_by.get(u[0], 0) - 40), u[1]))
    (cid, counselor), (writer_id, note_writer) = by_caseload[0], (by_caseload[1:] or by_caseload)[0]
    open_eps = (
        "SELECT e.id FROM episodes e WHERE e.discharged_on IS NULL "
        "AND e.primary_counselor_id = :c AND e.phase IN ('rehab', 'aftercare', 'detox') ORDER BY e.id"
    )
    note_episodes = _scalars(conn, open_eps, c=writer_id)
    chart_clients = _scalars(
        conn,
        "SELECT DISTINCT e.client_id FROM episodes e WHERE e.discharged_on IS NULL "
        "AND e.primary_counselor_id = :c ORDER BY e.client_id",
        c=cid,
    )
    nurse, nurse_site = _site_staff(conn, "nurse", prefix)
    cows_writer, cows_site = _site_staff(conn, "nurse", prefix, offset=1)
    manager, manager_site = _site_staff(conn, "clinic_manager", prefix)
    census = conn.execute(
        _at_site(
            "SELECT count(*) FROM episodes WHERE discharged_on IS NULL{at_site}",
            "site_id",
            manager_site,
        ),
        {"site": manager_site},
    ).scalar()
    year_ago = date.today() - timedelta(days=365)
    report = conn.execute(
        _at_site(
            "SELECT e.client_id, count(n.id) AS notes FROM episodes e "
            "JOIN clinical_sessions s ON s.episode_id = e.id JOIN notes n ON n.session_id = s.id "
            "WHERE s.session_date >= :since{at_site} "
            "GROUP BY e.client_id ORDER BY notes DESC, e.client_id LIMIT 1",
            "e.site_id",
            manager_site,
        ),
        {"since": year_ago, "site": manager_site},
    ).first()
    names = _scalars(
        conn, "SELECT DISTINCT legal_last_name FROM clients ORDER BY legal_last_name LIMIT 20"
    )
    total = conn.execute(sa.text("SELECT count(*) FROM clients")).scalar()
    return Targets(
        batch=_batch_selection(conn, manager_site),
        manager=manager,
        counselor=counselor,
        nurse=nurse,
        note_writer=note_writer,
        cows_writer=cows_writer,
        signin=(_staff(conn, "physician", prefix) or _staff(conn, "clinic_manager", prefix))[0][1],
        caseload=open_by.get(cid, 0),
        chart_clients=chart_clients,
        note_episodes=note_episodes,
        detox_episodes=_detox_at(conn, nurse_site),
        cows_episodes=_detox_at(conn, cows_site),
        census=census,
        nurse_site=_site_code(conn, nurse_site),
        manager_site=_site_code(conn, manager_site),
        search_terms=names,
        report_client=report[0] if report else chart_clients[0],
        report_notes=report[1] if report else 0,
        clients=total,
    )


def _batch_selection(conn, site: int | None = None) -> tuple[str, str, int]:
    """The smallest batch selection (a phase, a level of care or a caseload) of at least 200
    clients, counted among the manager's site's clients (the ones she can print): the batch
    row times its first 200 reports."""
    queries = {
        "phase": "SELECT e.phase, count(*) FROM episodes e WHERE e.phase != 'discharged'"
        "{at_site} GROUP BY e.phase",
        "level": "SELECT l.code, count(*) FROM episodes e JOIN level_of_care_spans l "
        "ON l.episode_id = e.id AND l.ended_on IS NULL WHERE e.phase != 'discharged'"
        "{at_site} GROUP BY l.code",
        "counselor": "SELECT e.primary_counselor_id, count(*) FROM episodes e "
        "WHERE e.phase != 'discharged' AND e.primary_counselor_id IS NOT NULL"
        "{at_site} GROUP BY e.primary_counselor_id",
    }
    options = [
        (scope, str(value), n)
        for scope, sql in queries.items()
        for value, n in conn.execute(_at_site(sql, "e.site_id", site), {"site": site})
    ]
    enough = [o for o in options if o[2] >= 200]
    if not enough:
        return max(options, key=lambda o: (o[2], o[0], o[1]))
    return min(enough, key=lambda o: (o[2], o[0], o[1]))
