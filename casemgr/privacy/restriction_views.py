"""Privacy: restrictions."""

from flask import Blueprint

bp = Blueprint("restrictions", __name__)
