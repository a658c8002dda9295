"""The caisse's "Demandes à instruire": the queue, an entity request, a change of an
entity's data. Thin views: the rules are in app/domain/organization_instruction.py.

An instructor sees and decides their caisse's items only; anything else — by link, typed
URL or forged form — is "Page introuvable" and nothing is written. An administrator sees
every caisse's items, read-only."""

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_login import login_required

from app.blueprints.instruction.forms import CommentedDecisionForm, DecisionForm
from app.domain import organization_instruction as instruction
from app.domain.access import require
from app.domain.errors import ConflictError, DomainError
from app.extensions import get_db
from app.ids import parse_id
from app.models import Organization, OrganizationChange, StoredFile
from app.models.organizations import (
    ORGANIZATION_CHANGE_STATUS_LABELS,
    ORGANIZATION_KIND_LABELS,
    ORGANIZATION_STATUS_LABELS,
)
from app.pagination import paginate
from app.web import send_stored_file

bp = Blueprint("instruction", __name__, url_prefix="/instruction")


@bp.get("/demandes")
@login_required
@require("instruction.view")
def requests():
    db = get_db()
    role = g.active_role
    filters = instruction.QueueFilters.parse(request.args)
    page = paginate(
        db,
        instruction.queue_count_statement(role, filters),
        rows=lambda page, per_page: instruction.queue_statement(role, filters, page * per_page),
    )
    return render_template(
        "instruction/requests.html",
        page=page,
        filters=filters,
        kinds=instruction.KIND_LABELS,
        states=instruction.QUEUE_STATE_LABELS,
        departments=instruction.departments(db, role),
        status_label=instruction.status_label,
        every_fund=role.fund_id is None,
    )


def _posted_version() -> int:
    version = parse_id(request.form.get("version"))
    if version is None:
        abort(400)  # no version the page gives: a damaged or forged form
    return version


# --- an entity request -----------------------------------------------------------------


def _load_request(organization_id: int) -> Organization:
    organization = instruction.get_request_for(get_db(), g.active_role, organization_id)
    if organization is None:
        abort(404)
    return organization


def _render_request(organization: Organization, status: int = 200, **extra):
    db = get_db()
    screen = instruction.request_screen(db, g.active_role, organization)
    context = {
        "screen": screen,
        "org": screen.organization,
        "kind_labels": ORGANIZATION_KIND_LABELS,
        "status_labels": ORGANIZATION_STATUS_LABELS,
        "validate_form": DecisionForm(formdata=None, data={"version": organization.version}),
        "return_form": CommentedDecisionForm(formdata=None, data={"version": organization.version}),
        **extra,
    }
    return render_template("instruction/request.html", **context), status


@bp.get("/entites/<int:organization_id>")
@login_required
@require("instruction.view")
def request_detail(organization_id: int):
    return _render_request(_load_request(organization_id))


@bp.get("/entites/<int:organization_id>/attestation")
@login_required
@require("instruction.view")
def request_attestation(organization_id: int):
    return _download(_load_request(organization_id).urssaf_file_id)


def _download(file_id: int | None):
    stored = get_db().get(StoredFile, file_id) if file_id else None
    if stored is None or not stored.complete:
        abort(404)
    return send_stored_file(
        stored.id, name=stored.name, content_type=stored.content_type, size=stored.size
    )


def _request_conflict(organization_id: int, message: str):
    db = get_db()
    db.rollback()
    return _render_request(_load_request(organization_id), 409, conflict=message)


@bp.post("/entites/<int:organization_id>/valider")
@login_required
@require("organization.instruct")
def validate(organization_id: int):
    db = get_db()
    organization = _load_request(organization_id)
    version = _posted_version()
    try:
        instruction.validate_request(db, g.active_role, organization, version)
    except ConflictError as exc:
        return _request_conflict(organization_id, exc.message)
    except DomainError as exc:
        db.rollback()
        return _render_request(_load_request(organization_id), 422, error=exc.message)
    db.commit()
    flash(
        f"La demande est validée : l'entité {organization.name} a le code {organization.code}, "
        "son demandeur en est gestionnaire."
    )
    return redirect(url_for("instruction.request_detail", organization_id=organization_id))


@bp.post("/entites/<int:organization_id>/renvoyer")
@login_required
@require("organization.instruct")
def return_request(organization_id: int):
    db = get_db()
    organization = _load_request(organization_id)
    version = _posted_version()
    form = CommentedDecisionForm()
    try:
        instruction.return_request(db, g.active_role, organization, version, form.comment.data)
    except ConflictError as exc:
        return _request_conflict(organization_id, exc.message)
    except DomainError as exc:
        db.rollback()
        form.version.data = version
        if exc.field == "comment":
            form.comment.errors = [exc.message]
            return _render_request(_load_request(organization_id), 422, return_form=form)
        return _render_request(
            _load_request(organization_id), 422, return_form=form, error=exc.message
        )
    db.commit()
    flash("La demande est renvoyée au demandeur avec votre commentaire.")
    return redirect(url_for("instruction.request_detail", organization_id=organization_id))


# --- a change of an entity's data ------------------------------------------------------


def _load_change(change_id: int) -> OrganizationChange:
    change = instruction.get_change_for(get_db(), g.active_role, change_id)
    if change is None:
        abort(404)
    return change


def _render_change(change: OrganizationChange, status: int = 200, **extra):
    screen = instruction.change_screen(get_db(), g.active_role, change)
    context = {
        "screen": screen,
        "change": change,
        "org": screen.organization,
        "kind_labels": ORGANIZATION_KIND_LABELS,
        "status_labels": ORGANIZATION_CHANGE_STATUS_LABELS,
        "accept_form": DecisionForm(formdata=None, data={"version": change.version}),
        "refuse_form": CommentedDecisionForm(formdata=None, data={"version": change.version}),
        **extra,
    }
    return render_template("instruction/change.html", **context), status


@bp.get("/modifications/<int:change_id>")
@login_required
@require("instruction.view")
def change_detail(change_id: int):
    return _render_change(_load_change(change_id))


@bp.get("/modifications/<int:change_id>/attestation")
@login_required
@require("instruction.view")
def change_attestation(change_id: int):
    return _download(_load_change(change_id).urssaf_file_id)


def _change_conflict(change_id: int, message: str):
    get_db().rollback()
    return _render_change(_load_change(change_id), 409, conflict=message)


@bp.post("/modifications/<int:change_id>/accepter")
@login_required
@require("organization.instruct")
def accept_change(change_id: int):
    db = get_db()
    change = _load_change(change_id)
    version = _posted_version()
    try:
        instruction.accept_change(db, g.active_role, change, version)
    except ConflictError as exc:
        return _change_conflict(change_id, exc.message)
    except DomainError as exc:
        db.rollback()
        return _render_change(_load_change(change_id), 422, error=exc.message)
    db.commit()
    flash("La modification est acceptée : les données de l'entité sont mises à jour.")
    return redirect(url_for("instruction.change_detail", change_id=change_id))


@bp.post("/modifications/<int:change_id>/refuser")
@login_required
@require("organization.instruct")
def refuse_change(change_id: int):
    db = get_db()
    change = _load_change(change_id)
    version = _posted_version()
    form = CommentedDecisionForm()
    try:
        instruction.refuse_change(db, g.active_role, change, version, form.comment.data)
    except ConflictError as exc:
        return _change_conflict(change_id, exc.message)
    except DomainError as exc:
        db.rollback()
        form.version.data = version
        if exc.field == "comment":
            form.comment.errors = [exc.message]
            return _render_change(_load_change(change_id), 422, refuse_form=form)
        return _render_change(_load_change(change_id), 422, refuse_form=form, error=exc.message)
    db.commit()
    flash("La modification est refusée ; les gestionnaires de l'entité en sont prévenus.")
    return redirect(url_for("instruction.change_detail", change_id=change_id))
