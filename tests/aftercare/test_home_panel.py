"""The counselor's home-page panel of check-ins due, rendered from due_check_ins()."""

from datetime import date

import time_machine
from flask import render_template

from casemgr.aftercare import services
from casemgr.domain.aftercare import StatusRules
from casemgr.domain.phases import Phase
from casemgr.domain.roles import Role
from casemgr.extensions import db
from tests.aftercare.helpers import check_ins, into_aftercare
from tests.clients_helpers import NOW, admitted


def render(app, rows) -> str:
    with app.test_request_context():
        return render_template("home/_check_ins_due.html", check_ins_due=rows)


def test_the_panel_lists_overdue_first_in_words(app, make):
    counselor = make.user(Role.COUNSELOR)
    with time_machine.travel(NOW, tick=False):
        person, episode = admitted(make.user(Role.CLINIC_MANAGER), counselor, Phase.REHAB)
        into_aftercare(episode, counselor)
    rows = services.due_check_ins(db.session, counselor, date(2026, 12, 3), StatusRules())
    html = render(app, rows)
    assert 'id="check-ins"' in html and "panel-attention" in html
    assert html.index("Overdue") < html.index("Upcoming")  # 2 Dec overdue, 9 Dec upcoming
    assert "routine check-in was due 2026-12-02" in html
    assert f"/aftercare/check-ins/{check_ins(episode)[0].id}" in html
    assert person.mrn in html and f"/aftercare/{episode.id}" in html


def test_an_empty_panel_says_so(app):
    html = render(app, [])
    assert "No aftercare check-ins due this week or overdue." in html
    assert "panel-attention" not in html
