"""Error pages, the database-down page, security headers (rows H-01, H-02, F-01, I-04)."""

import pytest
import sqlalchemy as sa

from casemgr.domain.roles import Role
from casemgr.extensions import db
from tests.conftest import make_app


def test_unknown_page_is_a_404_page(client, auth):
    auth.login(Role.NURSE)
    resp = client.get("/no/such/page")
    assert resp.status_code == 404 and "Not found" in resp.text


def test_forbidden_page_does_not_leak(client, auth):
    auth.login(Role.NURSE)
    resp = client.get("/admin/staff")
    assert resp.status_code == 403 and "Staff accounts" not in resp.text


def test_unexpected_errors_show_a_reference_and_no_internals(app_factory):
    app = app_factory(PROPAGATE_EXCEPTIONS=False, TESTING=False)

    @app.get("/boom")
    def boom():
        raise RuntimeError("secret internals SELECT * FROM users")

    boom.is_public = True
    with app.app_context():
        resp = app.test_client().get("/boom")
        db.session.remove()
    assert resp.status_code == 500
    assert "Reference:" in resp.text
    for leak in ("Traceback", "secret internals", "SELECT", "sqlalchemy", "/work/"):
        assert leak not in resp.text


def test_database_down_gives_a_clear_503(tmp_path):
    """Nothing listens on this port: every page answers 503 with Retry-After, not a 500."""
    app = make_app("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1", tmp_path)
    client = app.test_client()
    with client.session_transaction() as sess:
        sess["_user_id"], sess["sid"] = "1", "token"
    resp = client.get("/home/nurse")
    assert resp.status_code == 503
    assert resp.headers["Retry-After"] and "Nothing was saved" in resp.text
    assert "Traceback" not in resp.text
    assert client.get("/healthz").status_code == 503


def test_healthz_reports_the_database(client):
    assert client.get("/healthz").get_json() == {
        "status": "ok",
        "db": "up",
        "redis": "not configured",
    }


@pytest.mark.parametrize("path", ["/login", "/no-such-page", "/home/admin", "/healthz"])
def test_security_headers_on_every_response(client, auth, path):
    auth.login(Role.ADMIN)
    resp = client.get(path)
    csp = resp.headers["Content-Security-Policy"]
    for directive in (
        "default-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
        "script-src 'self'",
    ):
        assert directive in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    assert resp.headers["Cache-Control"] == "no-store"
    assert "Access-Control-Allow-Origin" not in resp.headers


def test_static_files_are_public_and_cacheable(client):
    resp = client.get("/static/css/app.css")
    assert resp.status_code == 200 and resp.headers.get("Cache-Control") != "no-store"
    resp.close()


def test_pages_load_no_third_party_assets(client):
    page = client.get("/login").text
    assert "http://" not in page and "https://" not in page
    assert "<script>" not in page and "style=" not in page  # no inline script or style for the CSP


def test_huge_posts_are_refused_with_413(client):
    resp = client.post("/login", data={"login": "x", "password": "y" * (3 * 1024 * 1024)})
    assert resp.status_code == 413


def test_nul_bytes_are_refused_not_stored(client, auth):
    auth.login(Role.ADMIN)
    resp = client.post("/admin/settings", data={"facility_name": "Bad\x00Name"})
    assert resp.status_code == 200 and "control characters" in resp.text
    assert (
        db.session.scalar(sa.text("SELECT count(*) FROM settings WHERE key = 'facility_name'")) == 0
    )


def test_over_length_values_are_refused_the_same_on_every_database(client, auth):
    auth.login(Role.ADMIN)
    resp = client.post("/admin/settings", data={"facility_name": "x" * 121})
    assert resp.status_code == 200 and "120" in resp.text
