"""Continuing-care plans: write, revise and sign."""

from flask import Blueprint

bp = Blueprint("ccplan", __name__)
