"""The rules a screen must meet before it is recorded (services.check is pure: no app)."""

from dataclasses import replace
from datetime import date, timedelta

import pytest

from casemgr.domain.errors import DomainError
from casemgr.domain.screens import PANEL
from casemgr.screens.services import check, needs_action
from tests.clients_helpers import NOW
from tests.screens.helpers import entry

ADMITTED = date(2026, 11, 1)


def run(e):
    check(e, now=NOW, admitted_on=ADMITTED, local_date=lambda d: d.date())


def refused_field(e) -> str | None:
    with pytest.raises(DomainError) as exc:
        run(e)
    return exc.value.field


def test_a_plain_negative_screen_passes_and_needs_no_action():
    e = entry()
    run(e)
    assert not needs_action(e)


def test_back_dating_is_allowed_but_not_the_future_or_before_admission():
    run(entry(collected_at=NOW - timedelta(days=3)))
    assert refused_field(entry(collected_at=NOW + timedelta(minutes=1))) == "collected_at"
    assert refused_field(entry(collected_at=NOW - timedelta(days=40))) == "collected_at"


def test_expected_only_on_a_positive_medication():
    run(entry({"buprenorphine": "positive"}, expected={"buprenorphine"}))
    assert (
        refused_field(entry({"fentanyl": "positive"}, expected={"fentanyl"}, action_taken="x"))
        == "expected_fentanyl"
    )
    assert refused_field(entry(expected={"methadone"})) == "expected_methadone"


@pytest.mark.parametrize(
    "e",
    [
        entry({"fentanyl": "positive"}),
        entry({"cocaine": "invalid"}),
        entry(refused=True),
    ],
    ids=["unexpected positive", "invalid", "refused"],
)
def test_action_taken_is_required_when_it_matters(e):
    assert needs_action(e)
    assert refused_field(e) == "action_taken"
    run(replace(e, action_taken="Discussed with the client; physician told."))


def test_a_refusal_carries_no_results_and_a_screen_needs_at_least_one():
    assert (
        refused_field(entry({"opiates": "negative"}, refused=True, action_taken="x")) == "refused"
    )
    run(entry({code: "not_tested" for code, _ in PANEL if code != "alcohol"}))  # breath alcohol
    assert refused_field(entry({code: "not_tested" for code, _ in PANEL})) is None


def test_every_panel_analyte_is_required_exactly_once():
    e = entry()
    assert refused_field(replace(e, results=e.results[1:])) is None
    assert refused_field(replace(e, results=(*e.results, e.results[0]))) is None


def test_specimen_type_comes_from_the_list():
    assert refused_field(entry(specimen_type="hair")) == "specimen_type"
