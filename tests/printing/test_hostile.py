"""Text that could break a PDF: markup characters, quotes, emoji, right-to-left scripts, a
10,000-character paragraph and words longer than the page. Every report still renders, every
page keeps its frame, and markup prints as the characters typed."""

from datetime import date

import pytest

from casemgr.aftercare import plans as care_plans
from casemgr.domain import continuing_care as cc
from casemgr.domain.phases import Phase
from casemgr.episodes import services as episodes
from casemgr.extensions import db
from casemgr.plans import services as plan_services
from tests.ccplan.helpers import draft_plan as draft_care_plan
from tests.ccplan.helpers import sign as sign_care_plan
from tests.clients_helpers import NOW, TODAY
from tests.plans.helpers import sign as sign_plan
from tests.printing.helpers import (
    assert_framed,
    client_in,
    frozen,
    local,
    print_report,
    signed_note,
    staff,
)
from tests.screens.helpers import recorded as screened

MARKUP = "<b>Zoë</b> & \"Q\" 'S' <img src=x/> </para> &amp;"
LONG_WORD = "Supercalifragilistic" * 250  # 5,000 characters, no space to break at
PARAGRAPH = ("Client reflected on cravings & triggers <i>at length</i>; 🙂 مرحبا שלום. " * 160)[
    :10000
]


@pytest.fixture
def hostile(make):
    team = staff(make)
    person, episode = client_in(
        team,
        Phase.REHAB,
        legal_first_name='<b>Zoë</b> & "Q"',
        legal_last_name="O'Brien 🙂 שלום",
        preferred_name="محمد",
        co_occurring=MARKUP,
    )
    with frozen():
        signed_note(episode, team.counselor, day=date(2026, 11, 10), assessment=PARAGRAPH)
        signed_note(episode, team.counselor, day=date(2026, 11, 11), assessment=LONG_WORD)
        signed_note(episode, team.counselor, day=date(2026, 11, 12), assessment=MARKUP)
        _plan(episode, team.counselor)
        screened(
            episode,
            team.nurse,
            now=NOW,
            collected_at=local(date(2026, 11, 13), 9),
            results={"cocaine": "positive"},
            action_taken=("Ä" * 500),
        )
    return team, person, episode


def _plan(episode, counselor):
    plan = plan_services.create_plan(db.session, episode, actor=counselor)
    problem = plan_services.add_part(db.session, plan, plan_services.ProblemDetails(MARKUP))
    goal = plan_services.add_part(db.session, problem, plan_services.GoalDetails("W" * 1000))
    objective = plan_services.add_part(
        db.session, goal, plan_services.ObjectiveDetails("M" * 1000, date(2026, 12, 20))
    )
    plan_services.add_part(
        db.session,
        objective,
        plan_services.InterventionDetails("CBT", "weekly", counselor.id),
    )
    db.session.commit()
    sign_plan(plan, counselor)


def test_hostile_text_renders_on_every_page(hostile):
    team, person, _ = hostile
    _, data = print_report(
        "progress", person, team.manager, purpose=MARKUP[:200], recipient="Court 🙂 <&>"
    )
    pages = assert_framed(data)
    body = " ".join(pages)
    assert len(pages) > 3  # the long paragraph runs over pages
    assert '<b>Zoë</b> & "Q"' in body  # printed as typed, not read as markup
    assert "<img src=x/> </para> &amp;" in body
    assert "O'Brien" in body and "&quot;" not in body and "&#39;" not in body
    assert "Court" in body and "<&>" in body
    assert "Supercalifragilistic" in body


def test_hostile_text_in_the_continuing_care_plan_and_discharge(hostile):
    team, person, episode = hostile
    with frozen():
        episodes.move(
            db.session,
            episode,
            episodes.Move(Phase.AFTERCARE, NOW, "Stepped down"),
            actor=team.counselor,
            now=NOW,
            local_date=lambda d: d.date(),
        )
        plan = draft_care_plan(episode, team.counselor)
        care_plans.add_item(db.session, plan, cc.Trigger("places", "T" * 500, 2, "C" * 1000))
        care_plans.add_item(db.session, plan, cc.Support("friend", MARKUP, "🙂", False, ""))
        sign_care_plan(plan, team.counselor)
        details = episodes.DischargeDetails(
            TODAY, TODAY, "7", "1", "unknown", "unknown", 0, "6", note=("Ω" * 1000)
        )
        episodes.discharge(db.session, episode, details, actor=team.counselor, now=NOW, today=TODAY)
        db.session.commit()
    for kind in ("progress", "discharge"):
        _, data = print_report(kind, person, team.manager)
        body = " ".join(assert_framed(data))
        assert '<b>Zoë</b> & "Q"' in body
        assert "<img src=x/>" in body
