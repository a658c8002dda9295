"""Accreditation requests: the tabbed request (Informations / Entité / Pédagogique /
Technique) the gestionnaire prepares and the caisse and the CNH read."""

from flask import Blueprint

bp = Blueprint("accreditation_requests", __name__, url_prefix="/habilitations/demandes")
