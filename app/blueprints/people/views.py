""" "Personnes": search, a person's page, identity correction, deactivation, merge.

Thin views: parse the form, call app/domain/people_admin.py, render. An administrator sees
everyone, an instructor their caisse's region (access.person_scope); a person out of
scope is "Page introuvable".
"""

from datetime import date

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

from app.auth_user import end_login_sessions
from app.blueprints.people.forms import ActionForm, IdentityForm, MergeForm, MergeSearchForm
from app.domain import people_admin as people
from app.domain.access import can, require
from app.domain.errors import ConflictError, DomainError
from app.extensions import get_db
from app.ids import parse_id
from app.models import Person
from app.pagination import paginate
from app.web import render_page_or_fragment

bp = Blueprint("people", __name__, url_prefix="/personnes")

SOURCE_LABELS = {"manuel": "Saisie manuelle", "import": "Reprise des données"}


@bp.get("/")
@login_required
@require("person.search")
def index():
    """The people the active role sees, searched by ?q= (as a fragment for htmx while
    one types)."""
    db = get_db()
    search = people.clean_search(request.args.get("q"))
    page = paginate(db, people.search_statement(g.active_role, search))
    return render_page_or_fragment(
        "people/index.html",
        "people/_results.html",
        listing=page,
        rows=people.list_rows(db, page.items),
        search=search,
    )


def _load(person_id: int) -> Person:
    person = people.get_for_role(get_db(), g.active_role, person_id)
    if person is None:
        abort(404)
    return person


def _identity_form(person: Person) -> IdentityForm:
    form = IdentityForm(
        formdata=None,
        last_name=person.last_name,
        first_name=person.first_name,
        birth_date=person.birth_date,
    )
    _seen(form, person)
    return form


def _seen(form: IdentityForm, person: Person) -> None:
    """The identity the form shows, sent back with it (its was_* fields)."""
    form.was_last_name.data = person.last_name
    form.was_first_name.data = person.first_name
    form.was_birth_date.data = person.birth_date.isoformat() if person.birth_date else ""


def _render_page(
    person: Person,
    status: int = 200,
    *,
    identity_form: IdentityForm | None = None,
    conflict: str | None = None,
    action_error: str | None = None,
):
    db = get_db()
    role = g.active_role
    screen = people.person_page(db, person)
    refusal = people.manage_refusal(db, role, person) if can(role, "person.manage") else None
    return render_template(
        "people/page.html",
        screen=screen,
        identity_form=identity_form or _identity_form(person),
        action_form=ActionForm(),
        can_manage=can(role, "person.manage") and refusal is None,
        manage_refusal=refusal if person.merged_into_id is None else None,
        can_merge=can(role, "person.merge") and person.merged_into_id is None,
        is_self=person.id == role.person_id,
        qualification_link=(
            "qualifications.new" in current_app.view_functions
            and can(role, "qualification.record")
            and person.merged_into_id is None
        ),
        source_labels=SOURCE_LABELS,
        conflict=conflict,
        action_error=action_error,
    ), status


@bp.get("/<int:person_id>")
@login_required
@require("person.search")
def page(person_id: int):
    return _render_page(_load(person_id))


def _iso(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


SEEN_FIELDS = ("was_last_name", "was_first_name", "was_birth_date")


@bp.post("/<int:person_id>/identite")
@login_required
@require("person.manage")
def identity(person_id: int):
    """Correct nom, prénom, date de naissance; the person is told by e-mail."""
    db = get_db()
    person = _load(person_id)
    form = IdentityForm()
    if not form.validate_on_submit():
        if any(form[name].errors for name in SEEN_FIELDS):
            # the identity the form showed came back damaged: not what anyone saw
            return _render_page(person, 409, conflict=people.CONFLICT)
        return _render_page(person, 422, identity_form=form)
    new = people.Identity(form.last_name.data, form.first_name.data, form.birth_date.data)
    seen = people.Identity(
        form.was_last_name.data or "",
        form.was_first_name.data or "",
        _iso(form.was_birth_date.data),
    )
    try:
        changed = people.correct_identity(db, g.active_role, person, new, seen)
    except ConflictError as exc:
        db.rollback()
        return _render_page(_load(person_id), 409, conflict=exc.message)
    except DomainError as exc:
        db.rollback()
        person = _load(person_id)
        if exc.field in form:
            form[exc.field].errors.append(exc.message)
        else:
            return _render_page(person, 422, identity_form=form, action_error=exc.message)
        _seen(form, person)
        return _render_page(person, 422, identity_form=form)
    db.commit()
    if changed:
        flash("L'identité est corrigée. La personne en est informée par e-mail.", "info")
    else:
        flash("Aucune modification : l'identité est déjà celle-ci.", "info")
    return redirect(url_for("people.page", person_id=person_id))


def _account_action(person_id: int, action, message: str, after=None):
    db = get_db()
    person = _load(person_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        action(db, g.active_role, person)
    except DomainError as exc:
        db.rollback()
        return _render_page(_load(person_id), 422, action_error=exc.message)
    db.commit()
    if after is not None:
        after(person_id)
    flash(message, "info")
    return redirect(url_for("people.page", person_id=person_id))


@bp.post("/<int:person_id>/desactivation")
@login_required
@require("person.manage")
def deactivate(person_id: int):
    """The person can no longer log in; each of their login sessions ends now."""
    return _account_action(
        person_id,
        people.deactivate,
        "Le compte est désactivé : la personne ne peut plus se connecter. "
        "Rien de ce qui la concerne n'est supprimé.",
        after=end_login_sessions,
    )


@bp.post("/<int:person_id>/reactivation")
@login_required
@require("person.manage")
def reactivate(person_id: int):
    return _account_action(person_id, people.reactivate, "Le compte est réactivé.")


# --- merge --------------------------------------------------------------------------------


def _choices() -> dict[int, str]:
    """The role to keep for each role both hold: radios named role_<duplicate grant id>."""
    choices = {}
    for name, value in request.form.items():
        grant_id = parse_id(name.removeprefix("role_")) if name.startswith("role_") else None
        if grant_id is not None:
            choices[grant_id] = value
    return choices


def _render_merge(
    kept: Person,
    status: int = 200,
    *,
    search_form: MergeSearchForm,
    preview: people.MergePreview | None = None,
    errors: dict[str, str] | None = None,
    choices: dict[int, str] | None = None,
):
    merge_form = MergeForm(formdata=None)
    if preview is not None:
        merge_form.duplicate_number.data = preview.duplicate.forprev_number
    return render_template(
        "people/merge.html",
        kept=kept,
        search_form=search_form,
        preview=preview,
        merge_form=merge_form,
        errors=errors or {},
        choices=choices or {},
        keep_kept=people.KEEP_KEPT,
        keep_duplicate=people.KEEP_DUPLICATE,
    ), status


@bp.get("/<int:person_id>/fusion")
@login_required
@require("person.merge")
def merge_preview(person_id: int):
    """Choose the duplicate by its Forprev number (?doublon=) and see what would move."""
    db = get_db()
    kept = _load(person_id)
    form = MergeSearchForm(formdata=request.args if "doublon" in request.args else None)
    if "doublon" not in request.args:
        return _render_merge(kept, search_form=form)
    if not form.validate():
        return _render_merge(kept, 422, search_form=form)
    try:
        duplicate = people.find_duplicate(db, kept, form.doublon.data, g.active_role.person_id)
    except DomainError as exc:
        form.doublon.errors = [exc.message]
        return _render_merge(kept, 422, search_form=form)
    preview = people.merge_preview(db, kept, duplicate)
    return _render_merge(kept, search_form=form, preview=preview)


@bp.post("/<int:person_id>/fusion")
@login_required
@require("person.merge")
def merge(person_id: int):
    """Merge the duplicate seen in the preview into this person, in one transaction."""
    db = get_db()
    kept = _load(person_id)
    form = MergeForm()
    if not form.validate_on_submit():
        abort(400)
    number = form.duplicate_number.data or ""
    search_form = MergeSearchForm(formdata=None, doublon=number)
    choices = _choices()
    try:
        duplicate = people.find_duplicate(db, kept, number, g.active_role.person_id)
    except DomainError as exc:
        search_form.doublon.errors = [exc.message]
        return _render_merge(kept, 422, search_form=search_form)
    try:
        people.merge(db, g.active_role, kept, duplicate, choices)
    except DomainError as exc:
        db.rollback()
        kept = _load(person_id)
        if exc.field == "duplicate_number":
            search_form.doublon.errors = [exc.message]
            return _render_merge(kept, 422, search_form=search_form)
        duplicate = people.find_duplicate(db, kept, number, g.active_role.person_id)
        return _render_merge(
            kept,
            422,
            search_form=search_form,
            preview=people.merge_preview(db, kept, duplicate),
            errors={exc.field or "": exc.message},
            choices=choices,
        )
    db.commit()
    end_login_sessions(duplicate.id)
    flash(
        f"La fiche {number} est fusionnée dans celle-ci : son numéro Forprev mène désormais "
        "à cette personne.",
        "info",
    )
    return redirect(url_for("people.page", person_id=person_id))
