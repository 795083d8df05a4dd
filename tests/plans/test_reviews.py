"""Review dates with a frozen clock: per level of care, overdue on the chart and on the
counselor's home page."""

import re
from datetime import UTC, date, datetime

import sqlalchemy as sa

from casemgr.domain.care import Setting
from casemgr.domain.phases import Phase
from casemgr.domain.roles import Role
from casemgr.episodes import services as episodes
from casemgr.extensions import db
from casemgr.plans import services
from casemgr.plans.models import TreatmentPlan
from tests.clients_helpers import admitted
from tests.factories import PASSWORD
from tests.plans.helpers import draft_plan, frozen, sign

LATER = datetime(2026, 12, 27, 15, tzinfo=UTC)  # 10:00 at the facility on 27 December


def section(page: str, heading_id: str) -> str:
    match = re.search(rf'<section[^>]*aria-labelledby="{heading_id}".*?</section>', page, re.S)
    assert match, f"no panel {heading_id}"
    return match.group(0)


def set_level(actor, episode, code: str) -> None:
    episodes.set_level_of_care(
        db.session,
        episode,
        setting=Setting.RESIDENTIAL,
        code_system="ASAM3",
        code=code,
        started_on=date(2026, 11, 3),
        actor=actor,
        today=date(2026, 11, 25),
    )
    db.session.commit()


def test_signing_over_http_uses_the_configured_interval(app, client, auth, make):
    app.config["PLAN_REVIEW_DAYS"] = {"default": 30, "3.7": 14}
    counselor = make.user(Role.COUNSELOR)
    manager = make.user(Role.CLINIC_MANAGER)
    _, residential = admitted(manager, counselor, Phase.REHAB)
    _, outpatient = admitted(manager, counselor, Phase.REHAB, legal_first_name="Out")
    set_level(manager, residential, "3.7")
    set_level(manager, outpatient, "1")
    plans = [draft_plan(residential, counselor), draft_plan(outpatient, counselor)]
    with frozen():
        auth.login(counselor)
        for plan in plans:
            assert (
                client.post(f"/plans/{plan.id}/sign", data={"password": PASSWORD}).status_code
                == 302
            )
    db.session.expire_all()
    due = [db.session.get(TreatmentPlan, p.id).review_due_on for p in plans]
    assert due == [date(2026, 12, 9), date(2026, 12, 25)]


def test_review_overdue_with_a_frozen_clock(client, auth, make):
    counselor = make.user(Role.COUNSELOR)
    person, episode = admitted(make.user(Role.CLINIC_MANAGER), counselor, Phase.REHAB)
    sign(draft_plan(episode, counselor), counselor, today=date(2026, 11, 25))
    with frozen(datetime(2026, 12, 25, 15, tzinfo=UTC)):  # the due date itself
        auth.login(counselor)
        on_time = client.get(f"/clients/{person.id}").text
    auth.logout()
    with frozen(LATER):
        auth.login(counselor)
        chart = section(client.get(f"/clients/{person.id}").text, "plan-panel-h")
        plan_page = client.get(f"/plans/episode/{episode.id}").text
    assert "Overdue" not in section(on_time, "plan-panel-h")
    assert "2026-12-25" in section(on_time, "plan-panel-h")
    assert "Overdue</span> review was due 2026-12-25" in chart and "panel-attention" in chart
    assert "Overdue</span> review was due 2026-12-25" in plan_page


def test_the_counselor_home_lists_plan_reviews(client, auth, make):
    counselor, colleague = make.user(Role.COUNSELOR), make.user(Role.COUNSELOR)
    manager = make.user(Role.CLINIC_MANAGER)
    overdue, e1 = admitted(manager, counselor, Phase.REHAB, legal_last_name="Overdue")
    missing, _ = admitted(manager, counselor, Phase.AFTERCARE, legal_last_name="Missing")
    soon, e3 = admitted(manager, counselor, Phase.REHAB, legal_last_name="Soon")
    later, e4 = admitted(manager, counselor, Phase.REHAB, legal_last_name="Later")
    admitted(manager, counselor, Phase.INTAKE, legal_last_name="Newcomer")  # no plan expected yet
    _, e6 = admitted(manager, colleague, Phase.REHAB, legal_last_name="Elsewhere")
    v1 = sign(draft_plan(e1, counselor), counselor, today=date(2026, 11, 20))
    services.start_review(db.session, v1, actor=counselor)
    sign(draft_plan(e3, counselor), counselor, today=date(2026, 11, 30))  # due 30 December
    sign(draft_plan(e4, counselor), counselor, today=date(2026, 12, 20))  # due 19 January
    sign(draft_plan(e6, colleague), colleague, today=date(2026, 11, 20))
    db.session.commit()
    with frozen(LATER):
        auth.login(counselor)
        panel = section(client.get("/home/counselor").text, "plan-reviews-h")
    ids = [int(n) for n in re.findall(r'href="/clients/(\d+)"', panel)]
    assert ids == [overdue.id, missing.id, soon.id]
    assert "Plan reviews due (3)" in panel
    assert "review of version 1 was due 2026-12-20; review in progress (draft version 2)" in panel
    assert "No signed plan</span>" in panel and "no signed treatment plan yet" in panel
    assert "Due soon</span>" in panel and "due 2026-12-30" in panel


def test_the_plan_reviews_panel_is_one_query(client, auth, make, count_queries):
    counselor = make.user(Role.COUNSELOR)
    manager = make.user(Role.CLINIC_MANAGER)

    def overdue_plans(n: int, start: int) -> None:
        for i in range(start, start + n):
            _, episode = admitted(manager, counselor, Phase.REHAB, legal_last_name=f"P{i:02d}")
            sign(draft_plan(episode, counselor), counselor, today=date(2026, 11, 20))

    overdue_plans(1, 0)
    with frozen(LATER):
        auth.login(counselor)
        client.get("/home/counselor")
        with count_queries() as few:
            client.get("/home/counselor")
        overdue_plans(6, 1)
        client.get("/home/counselor")
        with count_queries() as many:
            page = client.get("/home/counselor").text
    assert "Plan reviews due (7)" in page
    assert many.count == few.count
    assert db.session.scalar(sa.select(sa.func.count(TreatmentPlan.id))) == 7
