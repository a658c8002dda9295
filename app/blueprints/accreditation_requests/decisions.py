"""The caisse's instruction (phases 1 and 2) and the CNH decision of an accreditation
request, shown on the request's own page (accreditation_requests/_decisions.html, below its
tabs).

Every view is thin: parse the form, call app/domain/accreditation_flow.py, commit once,
go back to the request. A refusal shows the request again with the message next to its
field (422, nothing written); a form naming an old version shows it as it is now (409).
"""

from flask import Blueprint, flash, g, request
from flask_login import login_required
from wtforms import HiddenField, IntegerField, TextAreaField
from wtforms.validators import InputRequired, Optional
from wtforms.widgets import HiddenInput

from app.blueprints.account.forms import FrenchDateField
from app.blueprints.accreditation_requests.views import (
    load_request,
    render_request,
    request_conflict,
    tab_url,
)
from app.clock import today
from app.domain import accreditation_flow as flow
from app.domain.access import require
from app.domain.accreditation_letters import issue_decision, mail_unfavourable_decision
from app.domain.errors import ConflictError, DomainError
from app.extensions import get_db
from app.forms import Form
from app.models import Accreditation, AccreditationRequest, Platform
from app.models.accreditations import RequestKind, RequestPhase
from app.tabs import go_to, posted_version

bp = Blueprint("accreditation_decisions", __name__, url_prefix="/habilitations/demandes")

# the tab shown again after an action (every request has it)
HOME_TAB = "informations"
# fields the page fills, not the person: refused, they are said above the tabs
HIDDEN_FIELDS = {"version", "phase"}
DAMAGED = (
    "Le formulaire envoyé ne correspond pas à la page (il a été modifié) : rechargez la "
    "page et recommencez."
)


# --- forms -----------------------------------------------------------------------------


class VersionForm(Form):
    """ "Commencer l'instruction": only the version the instructor read."""

    version = IntegerField(widget=HiddenInput(), validators=[InputRequired()])


class CompleteForm(VersionForm):
    # the phase the instructor saw: a second click never completes the next phase
    phase = HiddenField()


class IncompleteForm(VersionForm):
    comment = TextAreaField(
        "Ce que l'entité doit compléter ou corriger",
        id="instruction-commentaire",
        description="Ce commentaire est envoyé aux gestionnaires de l'entité avec la demande.",
    )


class FavourableForm(VersionForm):
    start_date = FrenchDateField(
        "Date de début de l'habilitation",
        id="decision-debut",
        validators=[Optional()],
        description="Format jj/mm/aaaa : la date de la décision CNH, au plus tôt le jour de "
        "la demande.",
    )


class UnfavourableForm(VersionForm):
    reason = TextAreaField(
        "Motif de la décision défavorable",
        id="decision-motif",
        description="Envoyé aux gestionnaires de l'entité : pour obtenir l'habilitation, "
        "elle devra faire une nouvelle demande.",
    )


def platform_field(platform: Platform) -> str:
    return f"plateforme_{platform.id}"


def favourable_form(platforms: list[Platform], **kwargs) -> FavourableForm:
    """The favourable decision's form, with one approval date per platform of the request
    (the field named as the rule names it: plateforme_<id>)."""

    class Form_(FavourableForm):
        pass

    for platform in platforms:
        setattr(
            Form_,
            platform_field(platform),
            FrenchDateField(
                f"Date d'approbation CNH de « {platform.name} »",
                id=f"decision-plateforme-{platform.id}",
                validators=[Optional()],
                description=f"{platform.address}, {platform.postal_code} {platform.city}. "
                "Format jj/mm/aaaa.",
            ),
        )
    return Form_(**kwargs)


@bp.app_template_global("decision_forms_of")
def decision_forms(req: AccreditationRequest, posted: dict | None = None) -> dict:
    """The forms of the request's instruction and decision section, empty, except those
    just posted (refused, kept as typed)."""
    posted = posted or {}
    data = {"version": req.version}
    forms = {
        "start": VersionForm(formdata=None, data=data),
        "complete": CompleteForm(formdata=None, data={**data, "phase": req.phase}),
        "incomplete": IncompleteForm(formdata=None, data=data),
        "unfavourable": UnfavourableForm(formdata=None, data=data),
    }
    if req.phase == RequestPhase.CNH:
        platforms = flow.platforms_of_request(get_db(), req.id)
        forms["favourable"] = favourable_form(platforms, formdata=None, data=data)
    forms.update(posted)
    return forms


@bp.app_template_global("decision_context")
def decision_context(req: AccreditationRequest) -> dict:
    """What the CNH's decision form says besides its fields: the request's platforms, the
    accreditation a renewal follows and the period a decision today would give."""
    if req.phase != RequestPhase.CNH:
        return {"platforms": [], "renewed": None, "period_today": None}
    db = get_db()
    renewed = None
    if req.kind == RequestKind.RENEWAL and req.renewal_of_id:
        renewed = db.get(Accreditation, req.renewal_of_id)
    return {
        "platforms": flow.platforms_of_request(db, req.id),
        "renewed": renewed,
        "period_today": flow.period_for(db, req, today()),
    }


# --- views -------------------------------------------------------------------------------


def _request_url(req: AccreditationRequest, tab: str = HOME_TAB) -> str:
    return tab_url(req, tab)


def _refused(req, posted: dict, **messages):
    """The request again with what was refused (422, nothing written): the forms as typed,
    each message next to its field, or above the tabs when it is about no field."""
    get_db().rollback()
    forms = decision_forms(req, posted)
    return render_request(req, HOME_TAB, 422, decision_forms=forms, **messages)


def _act(request_id: int, form: VersionForm, name: str, run, success: str, target=None):
    """Run a transition, its form being `name` in the section; commit once."""
    db = get_db()
    req = load_request(request_id)  # 404 outside the role's requests
    form.version.data = posted_version(request.form)
    if not form.validate():
        if set(form.errors) <= HIDDEN_FIELDS:  # nothing the person typed: a damaged form
            return _refused(req, {name: form}, error=DAMAGED)
        return _refused(req, {name: form})
    try:
        result = run(db, req, form.version.data)
    except ConflictError as exc:
        return request_conflict(request_id, HOME_TAB, exc.message)
    except DomainError as exc:
        field = form._fields.get(exc.field) if exc.field else None
        if field is not None and field.name != "version":
            field.errors = [exc.message]
            return _refused(req, {name: form})
        return _refused(req, {name: form}, error=exc.message)
    db.commit()
    flash(success)
    return go_to(target(result) if target else _request_url(req))


@bp.post("/<int:request_id>/instruction/commencer")
@login_required
@require("accreditation_request.instruct")
def start(request_id: int):
    return _act(
        request_id,
        VersionForm(),
        "start",
        lambda db, req, version: flow.start_instruction(db, g.active_role, req, version),
        "Instruction commencée : la demande est en phase 1.",
    )


@bp.post("/<int:request_id>/instruction/complet")
@login_required
@require("accreditation_request.instruct")
def complete(request_id: int):
    form = CompleteForm()
    seen = form.phase.data or ""
    messages = {
        RequestPhase.PHASE_1: "Phase 1 complète : la demande passe en phase 2.",
        RequestPhase.PHASE_2: "Phase 2 complète : la demande est transmise à la CNH.",
    }
    return _act(
        request_id,
        form,
        "complete",
        lambda db, req, version: flow.complete_phase(db, g.active_role, req, version, seen),
        messages.get(seen, "Phase complète."),
    )


@bp.post("/<int:request_id>/instruction/incomplet")
@login_required
@require("accreditation_request.instruct")
def incomplete(request_id: int):
    form = IncompleteForm()
    return _act(
        request_id,
        form,
        "incomplete",
        lambda db, req, version: flow.return_incomplete(
            db, g.active_role, req, version, form.comment.data
        ),
        "Demande renvoyée à l'entité avec votre commentaire.",
    )


@bp.post("/<int:request_id>/decision/favorable")
@login_required
@require("accreditation_request.decide")
def favourable(request_id: int):
    db = get_db()
    req = load_request(request_id)
    platforms = flow.platforms_of_request(db, req.id)
    form = favourable_form(platforms)

    def decide(db, req, version):
        dates = {p.id: getattr(form, platform_field(p)).data for p in platforms}
        accreditation = flow.decide_favourable(
            db, g.active_role, req, version, form.start_date.data, dates
        )
        issue_decision(db, accreditation)
        return accreditation

    return _act(
        request_id,
        form,
        "favourable",
        decide,
        "Décision favorable enregistrée : l'habilitation est créée et la lettre de décision "
        "envoyée aux gestionnaires de l'entité.",
        target=lambda accreditation: f"/habilitations/{accreditation.id}/general",
    )


@bp.post("/<int:request_id>/decision/defavorable")
@login_required
@require("accreditation_request.decide")
def unfavourable(request_id: int):
    form = UnfavourableForm()

    def decide(db, req, version):
        flow.decide_unfavourable(db, g.active_role, req, version, form.reason.data)
        mail_unfavourable_decision(db, req)

    return _act(
        request_id,
        form,
        "unfavourable",
        decide,
        "Décision défavorable enregistrée et envoyée aux gestionnaires de l'entité.",
    )
