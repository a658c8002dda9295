"""The caisse's instruction (phases 1 and 2) and the CNH decision of an accreditation
request, shown on the request's own page."""

from flask import Blueprint

bp = Blueprint("accreditation_decisions", __name__, url_prefix="/habilitations/demandes")
