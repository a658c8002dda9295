"""Utilisateurs: the entity's gestionnaires and délégataires, added, changed, removed by
a gestionnaire. Rules in app/domain/entity_users.py."""

from flask import Blueprint, abort, flash, g, redirect, render_template, url_for
from flask_login import login_required

from app.blueprints.entity_users.forms import AddMemberForm, RemoveForm, RoleForm
from app.domain import entity_users as rules
from app.domain.access import require
from app.domain.errors import DomainError
from app.extensions import get_db
from app.models import Organization
from app.models.people import Role
from app.pagination import paginate

bp = Blueprint("entity_users", __name__, url_prefix="/entite/utilisateurs")


def _choices(form: RoleForm, accreditations) -> None:
    form.accreditation_ids.choices = [(str(a.id), a.label) for a in accreditations]


def _show_error(form: RoleForm, exc: DomainError) -> str | None:
    """The rule's message next to its field; a message about no field is the form's."""
    if exc.field and exc.field in form:
        form[exc.field].errors = [exc.message]
        return None
    return exc.message


def _list(form: AddMemberForm | None = None, status: int = 200, error: str | None = None):
    db = get_db()
    organization_id = g.active_role.organization_id
    page = paginate(db, rules.members_query(organization_id))
    accreditations = rules.delegable_accreditations(db, organization_id)
    form = form or AddMemberForm(formdata=None)
    _choices(form, accreditations)
    return render_template(
        "entity_users/list.html",
        organization=db.get(Organization, organization_id),
        page=page,
        members=rules.members(db, organization_id, page.items),
        form=form,
        error=error,
        accreditations=accreditations,
    ), status


@bp.get("/")
@login_required
@require("entity_user.manage")
def index():
    return _list()


@bp.post("/")
@login_required
@require("entity_user.manage")
def add():
    db = get_db()
    form = AddMemberForm()
    _choices(form, rules.delegable_accreditations(db, g.active_role.organization_id))
    if not form.validate():
        return _list(form, 422)
    try:
        added = rules.add_member(
            db,
            g.active_role,
            last_name=form.last_name.data,
            first_name=form.first_name.data,
            birth_date=form.birth_date.data,
            email=form.email.data,
            role=form.role.data,
            accreditation_ids=form.accreditation_ids.data or [],
        )
    except DomainError as exc:
        db.rollback()
        return _list(form, 422, _show_error(form, exc))
    db.commit()
    member = added.member
    if added.created:
        flash(
            f"{member.name} est ajouté(e) comme {member.role_label.lower()} : un compte "
            f"Forprev a été créé (numéro {member.forprev_number}) et le lien pour choisir "
            f"son mot de passe a été envoyé à {member.email}."
        )
    else:
        flash(
            f"{member.name} avait déjà un compte Forprev (numéro {member.forprev_number}) : "
            f"le rôle {member.role_label.lower()} lui est ajouté, ses identifiants ne "
            "changent pas."
        )
    return redirect(url_for("entity_users.index"))


def _member_or_404(grant_id: int) -> rules.Member:
    member = rules.member_of(get_db(), g.active_role, grant_id)
    if member is None:
        abort(404)
    return member


def _edit(member: rules.Member, form: RoleForm | None = None, status=200, error=None):
    db = get_db()
    accreditations = rules.delegable_accreditations(db, g.active_role.organization_id)
    form = form or RoleForm(
        formdata=None,
        data={"role": member.role.value, "accreditation_ids": [a.id for a in member.delegations]},
    )
    _choices(form, accreditations)
    return render_template(
        "entity_users/edit.html",
        member=member,
        form=form,
        error=error,
        accreditations=accreditations,
        remove_form=RemoveForm(formdata=None),
        is_me=member.person_id == g.active_role.person_id,
    ), status


@bp.get("/<int:grant_id>")
@login_required
@require("entity_user.manage")
def edit(grant_id: int):
    return _edit(_member_or_404(grant_id))


@bp.post("/<int:grant_id>")
@login_required
@require("entity_user.manage")
def change(grant_id: int):
    db = get_db()
    member = _member_or_404(grant_id)
    form = RoleForm()
    if not form.validate():
        return _edit(member, form, 422)
    try:
        changed = rules.change_member(
            db,
            g.active_role,
            grant_id,
            role=form.role.data,
            accreditation_ids=form.accreditation_ids.data or [],
        )
    except DomainError as exc:
        db.rollback()
        return _edit(member, form, 422, _show_error(form, exc))
    db.commit()
    what = (
        f"délégataire de {len(changed.delegations)} habilitation(s)"
        if changed.role == Role.DELEGATAIRE
        else "gestionnaire"
    )
    flash(f"{changed.name} est désormais {what}.")
    return redirect(url_for("entity_users.index"))


@bp.post("/<int:grant_id>/retirer")
@login_required
@require("entity_user.manage")
def remove(grant_id: int):
    db = get_db()
    member = _member_or_404(grant_id)
    try:
        rules.remove_member(db, g.active_role, grant_id)
    except DomainError as exc:
        db.rollback()
        return _edit(member, status=422, error=exc.message)
    db.commit()
    flash(f"Le rôle {member.role_label.lower()} de {member.name} est retiré.")
    return redirect(url_for("entity_users.index"))
