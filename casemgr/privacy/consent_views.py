"""Privacy: consents."""

from flask import Blueprint

bp = Blueprint("consents", __name__)
