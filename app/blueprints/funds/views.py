""" "Caisses": every caisse with its departments and instructors, the instructors' accounts,
a department's routing to another caisse, and the administrators. Rules in
app/domain/funds_admin.py."""

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_login import login_required

from app.blueprints.funds.forms import AccountForm, ActionForm, AdministratorForm, MoveForm
from app.domain import funds_admin as rules
from app.domain.access import require
from app.domain.errors import DomainError
from app.extensions import get_db
from app.models import Fund
from app.pagination import paginate

bp = Blueprint("funds", __name__, url_prefix="/caisses")


def _fund_or_404(fund_id: int) -> Fund:
    fund = get_db().get(Fund, fund_id)
    if fund is None:
        abort(404)
    return fund


def _show_error(form, exc: DomainError) -> str | None:
    """The rule's message next to its field; a message about no field is the form's."""
    if exc.field and exc.field in form:
        form[exc.field].errors = [exc.message]
        return None
    return exc.message


@bp.get("/")
@login_required
@require("fund.manage")
def index():
    return render_template("funds/index.html", funds=rules.funds_overview(get_db()))


def _move_form(db, fund: Fund, formdata=None) -> MoveForm:
    form = MoveForm(formdata=formdata)
    form.department.choices = [("", "— Choisissez un département —")] + [
        (code, code) for code in rules.departments_of(db, fund.id)
    ]
    form.to_fund_id.choices = [("", "— Choisissez une caisse —")] + [
        (str(other.id), other.name) for other in rules.other_funds(db, fund.id)
    ]
    return form


def _detail(fund: Fund, *, form=None, move_form=None, status=200, error=None, move_error=None):
    db = get_db()
    page = paginate(db, rules.instructors_query(fund.id))
    return render_template(
        "funds/detail.html",
        fund=fund,
        departments=rules.departments_of(db, fund.id),
        page=page,
        instructors=rules.instructors(page.items),
        form=form or AccountForm(formdata=None),
        move_form=move_form or _move_form(db, fund),
        error=error,
        move_error=move_error,
    ), status


@bp.get("/<int:fund_id>")
@login_required
@require("fund.manage")
def detail(fund_id: int):
    return _detail(_fund_or_404(fund_id))


@bp.post("/<int:fund_id>/instructeurs")
@login_required
@require("fund.manage")
def add_instructor(fund_id: int):
    db = get_db()
    fund = _fund_or_404(fund_id)
    form = AccountForm()
    if not form.validate():
        return _detail(fund, form=form, status=422)
    try:
        added = rules.add_instructor(
            db,
            actor_id=g.active_role.person_id,
            fund_id=fund.id,
            last_name=form.last_name.data,
            first_name=form.first_name.data,
            email=form.email.data,
        )
    except DomainError as exc:
        db.rollback()
        return _detail(fund, form=form, status=422, error=_show_error(form, exc))
    db.commit()
    person = added.person
    if added.created:
        flash(
            f"{person.first_name} {person.last_name} est instructeur de {fund.name} : un compte "
            f"Forprev a été créé (numéro {person.forprev_number}) et le lien pour choisir son "
            f"mot de passe, valable 72 heures, a été envoyé à {person.email}."
        )
    else:
        flash(
            f"{person.first_name} {person.last_name} avait déjà un compte Forprev (numéro "
            f"{person.forprev_number}) : le rôle instructeur de {fund.name} lui est ajouté."
        )
    return redirect(url_for("funds.detail", fund_id=fund.id))


@bp.post("/<int:fund_id>/instructeurs/verifier")
@login_required
@require("fund.manage")
def check_instructor_field(fund_id: int):
    """Inline validation of the new instructor's fields (the form's rules; nothing saved):
    the page, from which the caller takes the field it left."""
    fund = _fund_or_404(fund_id)
    form = AccountForm()
    form.validate()
    for field in form:
        if not (request.form.get(field.name) or "").strip():
            field.errors = []  # an empty field is not judged while the form is filled in
    judged = any(field.errors for field in form)
    return _detail(fund, form=form, status=422 if judged else 200)


@bp.post("/<int:fund_id>/instructeurs/<int:grant_id>/retirer")
@login_required
@require("fund.manage")
def remove_instructor(fund_id: int, grant_id: int):
    db = get_db()
    fund = _fund_or_404(fund_id)
    if not ActionForm().validate():
        abort(400)
    try:
        left = rules.remove_instructor(
            db, actor_id=g.active_role.person_id, fund_id=fund.id, grant_id=grant_id
        )
    except LookupError:
        abort(404)
    db.commit()
    flash("Le rôle instructeur est retiré : le compte de la personne reste, sans ce rôle.")
    if left == 0:
        flash(
            f"Attention : {fund.name} n'a plus d'instructeur actif. Ses demandes attendent "
            "qu'un instructeur soit nommé.",
            "error",
        )
    return redirect(url_for("funds.detail", fund_id=fund.id))


@bp.post("/<int:fund_id>/departements")
@login_required
@require("fund.manage")
def move_department(fund_id: int):
    """Two steps: the change asked for is shown to be confirmed, then applied."""
    db = get_db()
    fund = _fund_or_404(fund_id)
    form = _move_form(db, fund, request.form)
    if not form.validate():
        return _detail(fund, move_form=form, status=422)
    try:
        if form.confirm.data != "oui":
            move = rules.check_move(db, fund.id, form.department.data, form.to_fund_id.data)
            return render_template("funds/confirm_move.html", fund=fund, move=move, form=form)
        move = rules.move_department(
            db,
            actor_id=g.active_role.person_id,
            fund_id=fund.id,
            department=form.department.data,
            to_fund_id=form.to_fund_id.data,
        )
    except DomainError as exc:
        db.rollback()
        return _detail(fund, move_form=form, status=422, move_error=_show_error(form, exc))
    db.commit()
    flash(
        f"Le département {move.department} est désormais rattaché à {move.to_fund.name} : "
        "les codes postaux saisis à partir de maintenant y sont dirigés ; les entités déjà "
        f"créées restent suivies par {move.from_fund.name}."
    )
    return redirect(url_for("funds.detail", fund_id=fund.id))


def _administrators(form=None, status=200, error=None):
    db = get_db()
    page = paginate(db, rules.administrators_query())
    return render_template(
        "funds/administrators.html",
        page=page,
        administrators=rules.administrators(page.items),
        form=form or AdministratorForm(formdata=None),
        error=error,
    ), status


@bp.get("/administrateurs")
@login_required
@require("fund.manage")
def administrators():
    return _administrators()


@bp.post("/administrateurs")
@login_required
@require("fund.manage")
def add_administrator():
    db = get_db()
    form = AdministratorForm()
    if not form.validate():
        return _administrators(form, 422)
    try:
        person = rules.add_administrator(
            db,
            actor_id=g.active_role.person_id,
            last_name=form.last_name.data,
            first_name=form.first_name.data,
            email=form.email.data,
        )
    except DomainError as exc:
        db.rollback()
        return _administrators(form, 422, _show_error(form, exc))
    db.commit()
    flash(
        f"{person.first_name} {person.last_name} est administrateur : un compte Forprev a été "
        f"créé (numéro {person.forprev_number}) et le lien pour choisir son mot de passe, "
        f"valable 72 heures, a été envoyé à {person.email}."
    )
    return redirect(url_for("funds.administrators"))
