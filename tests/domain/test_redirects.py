"""Open-redirect vectors from security matrix row I-07."""

import pytest

from casemgr.domain.redirects import safe_next


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "https:evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "%2F%2Fevil.example",
        "java\tscript:alert(1)",
        " //evil.example",
        "https://host@evil.example",
        "https://evil.example",
        "/\t/evil.example",
        "javascript:alert(1)",
        "",
        None,
    ],
)
def test_offsite_or_odd_targets_are_refused(target):
    assert safe_next(target) is None


@pytest.mark.parametrize("target", ["/", "/admin/staff", "/audit/?action=auth.&page=2"])
def test_same_site_paths_are_kept(target):
    assert safe_next(target) == target
