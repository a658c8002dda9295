from flask import Blueprint

bp = Blueprint("qualifications", __name__, url_prefix="/personnes")
