"""The medication administration record: orders, co-signature, doses and the day grid."""

from flask import Blueprint

bp = Blueprint("mar", __name__)
