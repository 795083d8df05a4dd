"""Charts served as images, drawn on the server (no JavaScript)."""

from __future__ import annotations

from flask import Blueprint, Response

from ..clients.access import load_client
from ..clients.timeline import timeline_for, timeline_summary_for
from ..policy import Perm, requires
from ..timefmt import today
from .timeline import timeline_svg

bp = Blueprint("charts", __name__)

# The SVG carries no script, no style sheet and no style="..." (presentation attributes
# only), and fetches nothing: opened on its own, it may do nothing but draw.
SVG_CSP = "default-src 'none'"

# The client page describes the chart in words next to the <img>.
bp.add_app_template_global(timeline_summary_for, "timeline_summary")


@bp.get("/charts/clients/<int:client_id>/timeline.svg")
@requires(Perm.CLIENT_VIEW)
def client_timeline(client_id: int) -> Response:
    client = load_client(client_id)  # out of scope: 404, and the attempt is audited
    response = Response(timeline_svg(timeline_for(client, today())), mimetype="image/svg+xml")
    response.headers["Content-Security-Policy"] = SVG_CSP
    return response
