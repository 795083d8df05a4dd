"""Reports: printing."""

from flask import Blueprint

bp = Blueprint("printing", __name__)
