"""Mon entité: the entity's data, and the gestionnaire's changes to it. Rules in
app/domain/organization_changes.py (administrative data waits for the caisse; the
signataire and the public listing apply at once)."""

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_login import login_required
from sqlmodel import select

from app.blueprints.organizations.forms import (
    AdminChangeForm,
    ListingForm,
    SignatoryForm,
    WithdrawForm,
)
from app.domain import organization_changes as changes
from app.domain import public_list
from app.domain.access import can, organization_scope, require
from app.domain.errors import ConflictError, DomainError
from app.domain.organization_rules import RequestFields, caisse_for
from app.domain.uploads import UploadRefused, check_upload, has_file
from app.extensions import get_db
from app.ids import parse_id
from app.models import Fund, Organization
from app.models.organizations import ORGANIZATION_KIND_LABELS, OrganizationKind
from app.web import render_page_or_fragment

bp = Blueprint("organizations", __name__, url_prefix="/entite")


def _mine() -> tuple[Organization, str | None]:
    role = g.active_role
    row = (
        get_db()
        .exec(
            select(Organization, Fund.name)
            .outerjoin(Fund, Fund.id == Organization.fund_id)
            .where(Organization.id == role.organization_id, organization_scope(role))
        )
        .first()
    )
    if row is None:
        abort(404)
    return row


def _version(formdata) -> int:
    version = parse_id(formdata.get("version"))
    if version is None:
        abort(400)  # no version the page gives: a damaged or forged form
    return version


@bp.get("/")
@login_required
@require("organization.view")
def mine():
    organization, fund_name = _mine()
    pending = changes.pending_view(get_db(), organization)
    return render_template(
        "organizations/mine.html",
        organization=organization,
        fund_name=fund_name,
        kind_labels=ORGANIZATION_KIND_LABELS,
        pending=pending,
        can_edit=can(g.active_role, "organization.edit"),
        training=organization.kind == OrganizationKind.TRAINING,
        withdraw_form=WithdrawForm(
            formdata=None, data={"version": pending.change.version if pending else None}
        ),
    )


# --- administrative data: a change for the caisse ---------------------------------------


def _admin_values(form: AdminChangeForm) -> RequestFields:
    return RequestFields(
        **{name: form[name].data for name in changes.ADMIN_FIELDS if name != "urssaf_issued_on"},
        urssaf_issued_on=form.urssaf_issued_on.data,
    )


def _render_admin(organization, form, status=200, errors=None, error=None):
    for name, message in (errors or {}).items():
        if name in form:
            form[name].errors = [message]
    postal_code = form.postal_code.data
    fund = caisse_for(get_db(), postal_code) if postal_code else None
    return render_page_or_fragment(
        "organizations/edit_admin.html",
        "organizations/edit_admin.html",
        status,
        organization=organization,
        form=form,
        error=error,
        fund=fund,
        moves=fund is not None and fund.id != organization.fund_id,
        pending=changes.pending_change(get_db(), organization.id),
    )


def _admin_form(organization, formdata=None) -> AdminChangeForm:
    values = changes.admin_values(organization)
    data = {name: getattr(values, name) for name in changes.ADMIN_FIELDS}
    return AdminChangeForm(formdata=formdata, data={**data, "version": organization.version})


def _attestation(form: AdminChangeForm):
    """(name, bytes, kind) of a file that passed, None without a file; its refusal."""
    file = request.files.get("urssaf_file")
    if not has_file(file):
        return None, None
    try:
        data, kind = check_upload(file, field="urssaf_file")
    except UploadRefused as exc:
        return None, exc.message
    return (file.filename, data, kind), None


@bp.get("/modifier")
@login_required
@require("organization.edit")
def edit_admin():
    organization, _ = _mine()
    return _render_admin(organization, _admin_form(organization))


@bp.post("/modifier")
@login_required
@require("organization.edit")
def request_change():
    db = get_db()
    organization, _ = _mine()
    version = _version(request.form)
    form = _admin_form(organization, request.form)
    form.validate()  # reads the fields; the rules judge them
    attestation, file_error = _attestation(form)
    values = _admin_values(form)
    read_errors = {name: errs[0] for name, errs in form.errors.items() if errs}
    if file_error or read_errors:
        errors = changes.check_admin_fields(db, organization, values, new_attestation=True)
        errors.update(read_errors)
        if file_error:
            errors["urssaf_file"] = file_error
        return _render_admin(organization, form, 422, errors)
    try:
        changes.request_change(
            db, g.active_role, version=version, values=values, attestation=attestation
        )
    except changes.FieldErrors as exc:
        db.rollback()
        return _render_admin(organization, form, 422, exc.errors)
    except ConflictError as exc:
        db.rollback()
        return _render_admin(organization, form, 409, error=exc.message)
    except DomainError as exc:
        db.rollback()
        return _render_admin(organization, form, 422, error=exc.message)
    db.commit()
    flash("Votre modification est envoyée à la caisse : elle s'appliquera une fois validée.")
    return redirect(url_for("organizations.mine"))


@bp.post("/modifier/verifier")
@login_required
@require("organization.edit")
def check_admin_field():
    """Live check of the change form: the same rules as the save (the caller swaps the
    field it left)."""
    organization, _ = _mine()
    _version(request.form)  # the form as the page gives it, like the save
    form = _admin_form(organization, request.form)
    form.validate()
    errors = changes.check_admin_fields(
        get_db(), organization, _admin_values(form), new_attestation=True
    )
    errors.pop("urssaf_file", None)  # the file is sent with the form, not checked live
    errors.update({name: errs[0] for name, errs in form.errors.items() if errs})
    return _render_admin(organization, form, 200, errors)


@bp.post("/modifications/<int:change_id>/retirer")
@login_required
@require("organization.edit")
def withdraw(change_id: int):
    db = get_db()
    organization, _ = _mine()
    if changes.change_of(db, organization.id, change_id) is None:
        abort(404)
    version = _version(request.form)
    try:
        changes.withdraw_change(db, g.active_role, change_id, version)
    except LookupError:
        abort(404)
    except ConflictError as exc:
        db.rollback()
        flash(exc.message, "error")
        return redirect(url_for("organizations.mine")), 303
    db.commit()
    flash("Votre modification est retirée : les données en vigueur restent inchangées.")
    return redirect(url_for("organizations.mine"))


# --- applied at once -----------------------------------------------------------------------


def _signatory_form(organization, formdata=None) -> SignatoryForm:
    data = {name: getattr(organization, name) for name in changes.SIGNATORY_FIELDS}
    return SignatoryForm(formdata=formdata, data={**data, "version": organization.version})


@bp.route("/signataire", methods=["GET", "POST"])
@login_required
@require("organization.edit")
def edit_signatory():
    db = get_db()
    organization, _ = _mine()
    form = _signatory_form(organization, request.form if request.method == "POST" else None)
    status, error = 200, None
    if request.method == "POST":
        version = _version(request.form)
        form.validate()
        try:
            changes.update_signatory(
                db,
                g.active_role,
                version=version,
                last_name=form.signatory_last_name.data,
                first_name=form.signatory_first_name.data,
                function=form.signatory_function.data,
            )
        except changes.FieldErrors as exc:
            db.rollback()
            status = 422
            for name, message in exc.errors.items():
                form[name].errors = [message]
        except DomainError as exc:
            db.rollback()
            status, error = (409 if isinstance(exc, ConflictError) else 422), exc.message
        else:
            db.commit()
            flash("Le signataire est enregistré.")
            return redirect(url_for("organizations.mine"))
    return render_template(
        "organizations/edit_signatory.html", organization=organization, form=form, error=error
    ), status


@bp.route("/diffusion", methods=["GET", "POST"])
@login_required
@require("organization.edit")
def edit_listing():
    db = get_db()
    organization, _ = _mine()
    data = {
        "public_listing": organization.public_listing,
        "public_email": organization.public_email,
        "public_phone": organization.public_phone,
        "public_website": organization.public_website,
        "version": organization.version,
    }
    form = ListingForm(formdata=request.form if request.method == "POST" else None, data=data)
    status, error = 200, None
    if request.method == "POST":
        version = _version(request.form)
        form.validate()
        try:
            changes.update_listing(
                db,
                g.active_role,
                version=version,
                listed=bool(form.public_listing.data),
                email=form.public_email.data,
                phone=form.public_phone.data,
                website=form.public_website.data,
            )
        except changes.FieldErrors as exc:
            db.rollback()
            status = 422
            for name, message in exc.errors.items():
                form[name].errors = [message]
        except DomainError as exc:
            db.rollback()
            status, error = (409 if isinstance(exc, ConflictError) else 422), exc.message
        else:
            db.commit()
            public_list.forget()  # the public list shows the change at once
            flash("Les informations de diffusion sont enregistrées.")
            return redirect(url_for("organizations.mine"))
    return render_template(
        "organizations/edit_listing.html",
        organization=organization,
        form=form,
        error=error,
        training=organization.kind == OrganizationKind.TRAINING,
    ), status
