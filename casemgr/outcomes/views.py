"""The clinic's outcome figures, with denominators, charts and CSV."""

from flask import Blueprint

bp = Blueprint("outcomes", __name__)
