"""Accreditations: the "Habilitations" list per role and an accreditation's tabbed page
(Informations, Général, Administratif, Pédagogie, Technique, Délégués), where the caisse
records suspensions and approves platforms and the entity adds platforms.

Views parse, call app/domain/accreditation_admin.py and render. A tab is a URL (full
page) and an htmx fragment (the panel), from the same templates.
"""

from flask import Blueprint, abort, g, redirect, render_template, request, url_for
from flask_login import login_required

from app import tabs
from app.blueprints.accreditations.forms import ApprovalForm, PlatformForm, SuspensionForm
from app.domain import accreditation_admin as admin
from app.domain import public_list
from app.domain.access import require
from app.domain.accreditation_flow import PlatformInput, check_platform
from app.domain.errors import ConflictError, DomainError
from app.extensions import get_db
from app.ids import parse_page
from app.models.accreditations import REQUEST_KIND_LABELS, REQUEST_PHASE_LABELS
from app.models.organizations import ORGANIZATION_KIND_LABELS
from app.models.people import Role
from app.pagination import paginate
from app.web import send_stored_file

bp = Blueprint("accreditations", __name__, url_prefix="/habilitations")


# --- the lists --------------------------------------------------------------------------


@bp.get("/")
@login_required
@require("accreditation.list")
def index():
    """The entity's accreditations with its requests in progress (gestionnaire), the
    delegated ones (délégataire), the caisse's or every one, searchable (instructor,
    administrator)."""
    db = get_db()
    role = g.active_role
    entity = role.role == Role.GESTIONNAIRE
    search = admin.clean_search(request.args.get("recherche"))
    page = paginate(db, admin.list_statement(role, search))
    requests_page = (
        paginate(db, admin.requests_statement(role), page=parse_page(request.args.get("demandes")))
        if entity
        else None
    )
    return render_template(
        "accreditations/index.html",
        page=page,
        rows=admin.list_rows(db, role, page.items),
        requests_page=requests_page,
        kind_labels=REQUEST_KIND_LABELS,
        phase_labels=REQUEST_PHASE_LABELS,
        entity=entity,
        searchable=role.role in admin.CARRIERS,
        every_fund=role.role == Role.ADMINISTRATEUR,
        search=search,
    )


# --- the page -----------------------------------------------------------------------------


def _load(accreditation_id: int):
    accreditation = admin.get_for_role(get_db(), g.active_role, accreditation_id)
    if accreditation is None:
        abort(404)
    return accreditation


def _load_technical(accreditation_id: int):
    """An accreditation whose dispositif has platforms (its Technique tab exists), or 404."""
    accreditation = _load(accreditation_id)
    if "technique" not in admin.tabs_of(get_db(), accreditation):
        abort(404)
    return accreditation


def _tab_url(accreditation, tab: str) -> str:
    return url_for("accreditations.tab", accreditation_id=accreditation.id, tab=tab)


def _render(accreditation, tab: str, status: int = 200, **extra):
    """The page, or its panel for htmx; every form carries the accreditation's version."""
    screen = admin.screen_of(get_db(), g.active_role, accreditation, tab)
    approval_forms = {
        p.id: ApprovalForm(formdata=None, prefix=f"plateforme-{p.id}")
        for p in screen.platforms
        if p.cnh_approved_on is None
    }
    if "approval_form" in extra:  # the refused one, as typed
        approval_forms[extra.pop("approval_platform_id")] = extra.pop("approval_form")
    context = {
        "screen": screen,
        "acc": accreditation,
        "tab": tab,
        "tabs": tabs.tab_list(
            admin.TABS,
            [key for key, _label in screen.tabs],
            lambda key: _tab_url(accreditation, key),
        ),
        "tab_url": lambda key: _tab_url(accreditation, key),
        "kind_labels": ORGANIZATION_KIND_LABELS,
        "suspension_form": extra.pop("suspension_form", None) or SuspensionForm(formdata=None),
        "platform_form": extra.pop("platform_form", None) or PlatformForm(formdata=None),
        "approval_forms": approval_forms,
        **extra,
    }
    return tabs.render_tab(
        "accreditations/page.html",
        "accreditations/_panel.html",
        url=_tab_url(accreditation, tab),
        status=status,
        **context,
    )


@bp.get("/<int:accreditation_id>")
@login_required
@require("accreditation.view")
def show(accreditation_id: int):
    return redirect(_tab_url(_load(accreditation_id), "informations"))


@bp.get("/<int:accreditation_id>/<tab>")
@login_required
@require("accreditation.view")
def tab(accreditation_id: int, tab: str):
    accreditation = _load(accreditation_id)
    if tab not in admin.tabs_of(get_db(), accreditation):
        abort(404)
    return _render(accreditation, tab)


@bp.get("/<int:accreditation_id>/lettre-decision")
@login_required
@require("accreditation.view")
def decision_letter(accreditation_id: int):
    """ "Télécharger la lettre de décision": while the accreditation has not ended."""
    stored = admin.decision_letter(get_db(), _load(accreditation_id))
    if stored is None:
        abort(404)
    return _send(stored)


@bp.get("/<int:accreditation_id>/documents/<int:document_id>")
@login_required
@require("accreditation.view")
def document(accreditation_id: int, document_id: int):
    """A file of the request that gave the accreditation (Pédagogie, Technique)."""
    stored = admin.document_file(get_db(), _load(accreditation_id), document_id)
    if stored is None:
        abort(404)
    return _send(stored)


def _send(stored):
    return send_stored_file(
        stored.id,
        name=stored.name,
        content_type=stored.content_type,
        size=stored.size,
        no_store=True,
    )


# --- changes ------------------------------------------------------------------------------


def _posted_version() -> int:
    return tabs.posted_version(request.form)


def _conflict(accreditation_id: int, tab: str, message: str):
    return tabs.conflict(
        get_db(),
        lambda: admin.get_for_role(get_db(), g.active_role, accreditation_id),
        lambda fresh, status, **extra: _render(fresh, tab, status, **extra),
        message,
    )


def _done(accreditation, tab: str, message: str):
    """After a change: the panel with its message (htmx), or the tab's page again."""
    return tabs.after_save(
        lambda **extra: _render(accreditation, tab, **extra), _tab_url(accreditation, tab), message
    )


def _typing_errors(form, names: tuple[str, ...]) -> dict[str, str]:
    """What could not be read in the fields `names` (a date that is no date)."""
    return {name: getattr(form, name).errors[0] for name in names if getattr(form, name).errors}


def _refused(form, errors: dict[str, str]) -> None:
    """The rules' messages next to their fields; a date that could not be read keeps its."""
    for name, message in errors.items():
        target = getattr(form, name)
        if not target.errors:
            target.errors = [message]


@bp.post("/<int:accreditation_id>/suspensions")
@login_required
@require("accreditation.suspend")
def add_suspension(accreditation_id: int):
    db = get_db()
    accreditation = _load(accreditation_id)
    form = SuspensionForm()
    version = _posted_version()
    form.validate()
    errors = _typing_errors(form, ("start_date", "end_date", "reason"))
    try:
        if not errors:
            errors = admin.add_suspension(
                db,
                g.active_role,
                accreditation,
                form.start_date.data,
                form.end_date.data,
                form.reason.data,
                version,
            )
        else:  # every message at once: the rules check the fields that could be read
            errors = {
                **admin.check_suspension(
                    db, accreditation, form.start_date.data, form.end_date.data, form.reason.data
                ),
                **errors,
            }
    except ConflictError as exc:
        return _conflict(accreditation_id, "general", exc.message)
    except DomainError as exc:
        return _render(accreditation, "general", 422, suspension_form=form, error=exc.message)
    if errors:
        _refused(form, errors)
        return _render(accreditation, "general", 422, suspension_form=form)
    db.commit()
    public_list.forget()  # a suspension running today takes the entity off the public list
    return _done(accreditation, "general", "La période de suspension est enregistrée.")


@bp.post("/<int:accreditation_id>/plateformes")
@login_required
@require("accreditation.add_platform")
def add_platform(accreditation_id: int):
    db = get_db()
    accreditation = _load_technical(accreditation_id)
    form = PlatformForm()
    version = _posted_version()
    form.validate()
    values = PlatformInput(
        name=form.name.data or "",
        address=form.address.data or "",
        postal_code=form.postal_code.data or "",
        city=form.city.data or "",
    )
    errors = _typing_errors(form, ("name", "address", "postal_code", "city"))
    try:
        if not errors:
            errors = admin.add_platform(db, g.active_role, accreditation, values, version)
        else:  # every message at once
            errors = {**check_platform(values, db), **errors}
    except ConflictError as exc:
        return _conflict(accreditation_id, "technique", exc.message)
    except DomainError as exc:
        return _render(accreditation, "technique", 422, platform_form=form, error=exc.message)
    if errors:
        _refused(form, errors)
        return _render(accreditation, "technique", 422, platform_form=form)
    db.commit()
    return _done(
        accreditation,
        "technique",
        f"La plateforme « {values.name.strip()} » est ajoutée : elle pourra accueillir des "
        "sessions une fois approuvée par la caisse.",
    )


@bp.post("/<int:accreditation_id>/plateformes/<int:platform_id>/approuver")
@login_required
@require("accreditation.approve_platform")
def approve_platform(accreditation_id: int, platform_id: int):
    db = get_db()
    accreditation = _load_technical(accreditation_id)
    form = ApprovalForm(prefix=f"plateforme-{platform_id}")
    version = _posted_version()
    form.validate()
    kept = {"approval_form": form, "approval_platform_id": platform_id}
    try:
        problem = form.approved_on.errors[0] if form.approved_on.errors else None
        if problem is None:
            problem = admin.approve_platform(
                db, g.active_role, accreditation, platform_id, form.approved_on.data, version
            )
    except ConflictError as exc:
        return _conflict(accreditation_id, "technique", exc.message)
    except DomainError as exc:
        return _render(accreditation, "technique", 422, error=exc.message)
    if problem:
        form.approved_on.errors = [problem]
        return _render(accreditation, "technique", 422, **kept)
    db.commit()
    return _done(
        accreditation, "technique", "La date d'approbation de la plateforme est enregistrée."
    )
