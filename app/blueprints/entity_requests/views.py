"""Demande de nouvelle entité (two steps) and "Mes demandes en cours", for a demandeur.

Each step is a URL of its own and a plain form (the attestation is a file): it works
without JavaScript; htmx adds the live check of each field with the rules of the submit
(app/domain/organization_rules.py) and names the caisse as soon as the postal code is typed.
"""

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import login_required
from sqlalchemy import desc
from sqlmodel import select

from app.blueprints.entity_requests.forms import ConfirmForm, EntityRequestForm
from app.domain import organization_request as flow
from app.domain.access import require
from app.domain.errors import ConflictError, DomainError
from app.domain.organization_rules import STEP_FIELDS, RequestFields, check_request_fields
from app.extensions import get_db
from app.ids import parse_id
from app.models import Fund, Organization
from app.models.organizations import ORGANIZATION_KIND_LABELS
from app.pagination import paginate
from app.web import send_stored_file

bp = Blueprint("entity_requests", __name__, url_prefix="/demandes-entite")

STEPS = {1: "Entité", 2: "Signataire"}


@bp.app_template_filter("request_state")
def request_state(status: str) -> str:
    """A request's state in the requester's words (the dashboard lists them too)."""
    return flow.REQUESTER_LABELS.get(status, status)


# --- Mes demandes en cours ---------------------------------------------------------------


@bp.get("/")
@login_required
@require("entity_request.manage")
def index():
    db = get_db()
    query = (
        select(Organization, Fund.name)
        .outerjoin(Fund, Fund.id == Organization.fund_id)
        .where(flow.request_scope(g.active_role))
        .order_by(desc(Organization.updated_at), desc(Organization.id))
    )
    return render_template(
        "entity_requests/list.html", page=paginate(db, query), labels=flow.REQUESTER_LABELS
    )


# --- the two steps ---------------------------------------------------------------------


def _load(organization_id: int) -> Organization:
    organization = flow.get_for_role(get_db(), g.active_role, organization_id)
    if organization is None:
        abort(404)
    return organization


def _values(form: EntityRequestForm) -> RequestFields:
    return RequestFields(
        **{name: getattr(form, name).data for name in RequestFields.__dataclass_fields__}
    )


def _form(organization: Organization | None, formdata=None) -> EntityRequestForm:
    if formdata is not None:
        form = EntityRequestForm(formdata=formdata)
        form.validate()  # parses the date; the rules give the messages
        return form
    data = vars(flow.fields_of(organization)) if organization else {}
    data["version"] = str(organization.version) if organization else ""
    return EntityRequestForm(formdata=None, data=data)


def _render(organization, step, status=200, *, form=None, errors=None, **extra):
    db = get_db()
    form = form or _form(organization)
    for name, message in (errors or {}).items():
        if name in STEP_FIELDS[step]:
            getattr(form, name).errors = [message]
    screen = flow.screen(db, g.active_role, organization, form.postal_code.data)
    form.urssaf_file.description = form.urssaf_file.description.format(
        max_mb=current_app.config["UPLOAD_MAX_MB"]
    )
    if extra.pop("file_dropped", False):
        form.urssaf_file.description += (
            " Le fichier choisi n'a pas été gardé, la page n'étant pas enregistrée : "
            "choisissez-le à nouveau."
        )
    context = {
        "org": organization,
        "step": step,
        "steps": STEPS,
        "form": form,
        "screen": screen,
        "A": flow.Action,
        "kind_labels": ORGANIZATION_KIND_LABELS,
        "step_url": lambda n: _step_url(organization, n),
        "check_url": url_for("entity_requests.check_field", step=step),
        "live": _live(step),
        **extra,
    }
    return render_template("entity_requests/step.html", **context), status


def _live(step: int):
    check_url = url_for("entity_requests.check_field", step=step)

    def live(name: str, attrs: dict | None = None) -> dict:
        """htmx attributes of a field's inline validation."""
        return {
            "data-hx-post": check_url,
            "data-hx-trigger": "change",
            "data-hx-include": "#form-demande",
            "data-hx-target": f"#{name}-champ",
            "data-hx-select": f"#{name}-champ",
            "data-hx-swap": "outerHTML",
            "data-hx-select-oob": "#caisse-instructrice",
            **(attrs or {}),
        }

    return live


def _step_url(organization, step: int) -> str:
    if organization is None:
        return url_for("entity_requests.new")
    return url_for("entity_requests.step", organization_id=organization.id, step=step)


@bp.get("/nouvelle")
@login_required
@require("entity_request.manage")
def new():
    """Step 1 of a request not saved yet: it is numbered on its first save."""
    return _render(None, 1)


@bp.post("/nouvelle")
@login_required
@require("entity_request.manage")
def create():
    return _save(None, 1)


@bp.get("/<int:organization_id>/etape-<int:step>")
@login_required
@require("entity_request.manage")
def step(organization_id: int, step: int):
    organization = _load(organization_id)
    if step not in STEPS:
        abort(404)
    if flow.Action.EDIT not in flow.allowed_actions(g.active_role, organization):
        return redirect(url_for("entity_requests.view", organization_id=organization_id))
    return _render(organization, step)


@bp.post("/<int:organization_id>/etape-<int:step>")
@login_required
@require("entity_request.manage")
def save(organization_id: int, step: int):
    if step not in STEPS:
        abort(404)
    return _save(_load(organization_id), step)


def _posted_version(organization) -> int | None:
    """The version the page was read at; a request not saved yet has none."""
    posted = request.form.get("version")
    if organization is None:
        if posted and parse_id(posted) is None:
            abort(400)  # no version the page gives: a damaged or forged form
        return None
    version = parse_id(posted)
    if version is None:
        abort(400)  # no version the page gives: a damaged or forged form
    return version


def _save(organization: Organization | None, step: int):
    """Enregistrer, Suivant, Précédent (they save the step) or Soumettre (step 2)."""
    db = get_db()
    version = _posted_version(organization)
    if organization is not None and flow.Action.EDIT not in flow.allowed_actions(
        g.active_role, organization
    ):  # sent or decided meanwhile (another tab, the caisse)
        return _conflict(organization, step, flow.CONFLICT)
    form = _form(organization, formdata=request.form)
    action = request.form.get("action", "enregistrer")
    try:
        result = flow.save_step(
            db,
            g.active_role,
            organization,
            version,
            _values(form),
            step,
            attestation=request.files.get("urssaf_file"),
            complete=action in ("suivant", "soumettre"),
        )
    except ConflictError as exc:
        return _conflict(organization, step, exc.message)
    except DomainError as exc:
        return _render(organization, step, 422, form=form, error=exc.message)
    if result.errors:
        sent = request.files.get("urssaf_file")
        dropped = bool(sent and sent.filename) and "urssaf_file" not in result.errors
        return _render(
            organization, step, 422, form=form, errors=result.errors, file_dropped=dropped
        )
    organization = result.organization
    if action == "soumettre":
        try:
            missing = flow.submit(db, g.active_role, organization, organization.version)
        except ConflictError as exc:
            return _conflict(organization, step, exc.message)
        if missing:
            db.commit()  # the step's fields are saved; what is missing is said
            return _render(
                organization,
                step,
                422,
                errors=missing,
                error="La demande n'est pas complète : " + _missing_sentence(missing),
            )
        db.commit()
        flash(
            f"Demande n° {organization.id} envoyée à la caisse instructrice : "
            "partie administrative en cours de validation."
        )
        return redirect(url_for("entity_requests.index"))
    db.commit()
    if action == "suivant":
        return redirect(_step_url(organization, 2))
    if action == "precedent":
        return redirect(_step_url(organization, 1))
    flash(f"Demande n° {organization.id} enregistrée.")
    return redirect(_step_url(organization, step))


def _missing_sentence(missing: dict[str, str]) -> str:
    """What is missing, step by step (a field of the other step is named with it)."""
    parts = []
    for number, title in STEPS.items():
        messages = [m for k, m in missing.items() if k in STEP_FIELDS[number]]
        if messages:
            parts.append(f"étape {number} ({title}) : " + " ".join(messages))
    return " ; ".join(parts)


def _conflict(organization, step: int, message: str):
    db = get_db()
    db.rollback()
    if organization is None:
        abort(409)
    fresh = flow.get_for_role(db, g.active_role, organization.id)
    if fresh is None:
        abort(404)
    if flow.Action.EDIT not in flow.allowed_actions(g.active_role, fresh):
        return render_template(
            "entity_requests/view.html", org=fresh, screen=_screen(fresh), conflict=message
        ), 409
    return _render(fresh, step, 409, conflict=message)


@bp.post("/verifier/<int:step>")
@login_required
@require("entity_request.manage")
def check_field(step: int):
    """Inline validation: the step's form, checked with the submit's rules (only what was
    typed); htmx keeps the block of the field left and the caisse line."""
    if step not in STEPS:
        abort(404)
    db = get_db()
    _posted_version(None)  # the request's own version, if any, is checked by its save
    form = _form(None, formdata=request.form)
    errors = check_request_fields(db, _values(form))
    for name in form.errors:
        errors.setdefault(name, form.errors[name][0])
    status = 422 if any(k in STEP_FIELDS[step] for k in errors) else 200
    return _render(None, step, status, form=form, errors=errors)


# --- read-only, abandon, attestation ---------------------------------------------------


def _screen(organization):
    return flow.screen(get_db(), g.active_role, organization, organization.postal_code)


@bp.get("/<int:organization_id>")
@login_required
@require("entity_request.manage")
def view(organization_id: int):
    organization = _load(organization_id)
    return render_template(
        "entity_requests/view.html",
        org=organization,
        screen=_screen(organization),
        kind_labels=ORGANIZATION_KIND_LABELS,
        A=flow.Action,
    )


@bp.get("/<int:organization_id>/abandonner")
@login_required
@require("entity_request.manage")
def confirm_abandon(organization_id: int):
    organization = _load(organization_id)
    if flow.Action.ABANDON not in flow.allowed_actions(g.active_role, organization):
        return redirect(url_for("entity_requests.view", organization_id=organization_id))
    form = ConfirmForm(formdata=None, data={"version": str(organization.version)})
    return render_template("entity_requests/abandon.html", org=organization, form=form)


@bp.post("/<int:organization_id>/abandonner")
@login_required
@require("entity_request.manage")
def abandon(organization_id: int):
    db = get_db()
    organization = _load(organization_id)
    version = _posted_version(organization)
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        flow.abandon(db, g.active_role, organization, version)
    except ConflictError as exc:
        return _conflict(organization, 1, exc.message)
    except DomainError as exc:
        flash(exc.message, "error")
        return redirect(url_for("entity_requests.view", organization_id=organization_id))
    db.commit()
    flash(f"La demande n° {organization_id} ({organization.name or 'sans nom'}) est abandonnée.")
    return redirect(url_for("entity_requests.index"))


@bp.get("/<int:organization_id>/attestation")
@login_required
@require("entity_request.manage")
def attestation(organization_id: int):
    stored = flow.attestation_of(get_db(), g.active_role, organization_id)
    if stored is None or not stored.complete:
        abort(404)
    return send_stored_file(
        stored.id,
        name=stored.name,
        content_type=stored.content_type,
        size=stored.size,
        no_store=True,
    )
