"""Reports: facility_reports."""

from flask import Blueprint

bp = Blueprint("facility_reports", __name__)
