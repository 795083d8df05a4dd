"""Privacy: emergency."""

from flask import Blueprint

bp = Blueprint("emergency", __name__)
