"""Text that is not UTF-8 is refused at the door, on every route (security matrix I-03)."""

import pytest

from casemgr.request_checks import is_utf8_urlencoded


@pytest.mark.parametrize(
    ("raw", "ok"),
    [
        (b"", True),
        (b"a=1&b=two+words", True),
        (b"name=Jos%C3%A9", True),
        (b"name=%E2%82%AC", True),
        (b"name=%C3%28", False),
        (b"name=%FF", False),
        (b"%C3%28=x", False),
        (b"a=1&b=%ED%A0%80", False),  # an encoded surrogate is not UTF-8 either
        (b"name=100%", True),  # a stray percent sign is text, not an escape
    ],
)
def test_urlencoded_text_must_decode_as_utf8(raw, ok):
    assert is_utf8_urlencoded(raw) is ok


def test_a_query_string_that_is_not_utf8_is_refused(client):
    assert client.get("/login?next=%C3%28").status_code == 400
    assert client.get("/login?next=%C3%A9").status_code == 200


def test_a_form_that_is_not_utf8_is_refused_before_any_view(client):
    resp = client.post(
        "/login",
        data=b"login=%C3%28&password=x",
        content_type="application/x-www-form-urlencoded",
    )
    assert resp.status_code == 400
    assert b"could not be understood" in resp.data
