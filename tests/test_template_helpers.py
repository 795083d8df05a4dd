"""Helpers that replaced template macros on the busiest lists (the detox board, the home
pages): same markup as the macros they replaced, and escaped like template text."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

from casemgr.templating import client_link
from casemgr.timefmt import when


def test_when_shows_the_facility_date_and_time_and_keeps_the_instant(app):
    app.config["TIMEZONE"] = "America/New_York"
    with app.test_request_context():
        html = when(datetime(2026, 11, 25, 20, 5, tzinfo=UTC))
    assert html == (
        '<time datetime="2026-11-25T20:05:00+00:00"><span class="nowrap">2026-11-25</span> '
        '<span class="nowrap">15:05</span></time>'
    )


def test_client_link_escapes_names_and_shows_a_preferred_name(app):
    client = SimpleNamespace(
        id=7, legal_last_name="O'Brien <b>", legal_first_name="Sam", preferred_name="S&m"
    )
    with app.test_request_context():
        html = client_link(client)
        plain = client_link(SimpleNamespace(**{**vars(client), "preferred_name": None}))
    assert html == (
        '<a href="/clients/7"><bdi>O&#39;Brien &lt;b&gt;, Sam</bdi></a>'
        ' <span class="muted">“<bdi>S&amp;m</bdi>”</span>'
    )
    assert plain == '<a href="/clients/7"><bdi>O&#39;Brien &lt;b&gt;, Sam</bdi></a>'


def test_client_link_can_point_elsewhere(app):
    client = SimpleNamespace(id=7, legal_last_name="Doe", legal_first_name="Jo", preferred_name="")
    with app.test_request_context():
        html = client_link(client, "/detox/3")
    assert html == '<a href="/detox/3"><bdi>Doe, Jo</bdi></a>'
