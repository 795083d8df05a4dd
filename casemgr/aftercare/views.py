"""The aftercare year on one page: plan, check-ins, relapse events, sobriety date, closure."""

from flask import Blueprint

bp = Blueprint("aftercare", __name__)
