"""The contact form ("Nous écrire") and the support's "Demandes d'assistance". Thin views:
the rules are in app/domain/contact_requests.py.

Anyone may write, logged in or not (then with the anti-robot question of the sign-up
form). Administrators are the support team: they list, answer and close requests. The
sender of a request with an account reads its answer on the request's page too; to anyone
else a request is "Page introuvable"."""

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from app.blueprints.account.forms import email_field
from app.blueprints.account.views import _new_robot_question, _robot_answer_ok
from app.blueprints.help.views import bp
from app.domain import contact_requests, throttle
from app.domain.access import can, require
from app.domain.errors import ConflictError, DomainError
from app.extensions import get_db
from app.forms import Form
from app.models import ContactRequest, Person
from app.pagination import paginate


class ContactForm(Form):
    subject = SelectField(
        "Sujet",
        choices=[("", "— Choisissez un sujet —"), *[(s, s) for s in contact_requests.SUBJECTS]],
        validate_choice=False,  # the rule names a forged subject in French
        validators=[DataRequired("Choisissez le sujet de votre demande.")],
    )
    email = email_field(
        "Votre adresse e-mail",
        description="La réponse du support vous sera envoyée à cette adresse.",
    )
    message = TextAreaField(
        "Votre message",
        validators=[
            DataRequired("Écrivez votre message."),
            Length(max=contact_requests.MESSAGE_MAX, message=contact_requests.too_long()),
        ],
        description=f"{contact_requests.MESSAGE_MAX:,} caractères au plus.".replace(",", " "),
    )
    robot = StringField(
        "Question anti-robot",
        validators=[DataRequired("Répondez à la question, en chiffres.")],
    )


class AnswerForm(Form):
    answer = TextAreaField(
        "Votre réponse",
        validators=[
            DataRequired("Écrivez votre réponse."),
            Length(max=contact_requests.MESSAGE_MAX, message=contact_requests.too_long("réponse")),
        ],
        description="Elle est envoyée par e-mail à l'auteur de la demande et, s'il a un compte, "
        "affichée sur son tableau de bord.",
    )


def _person_id() -> int | None:
    return current_user.person_id if current_user.is_authenticated else None


@bp.route("/contact", methods=["GET", "POST"])
def contact():
    db = get_db()
    person_id = _person_id()
    form = ContactForm()
    if person_id is not None:
        del form.robot  # a logged-in person has proved more than the question would
        if request.method == "GET":
            form.email.data = db.get(Person, person_id).email
    error, status = None, 200
    if request.method == "POST":
        valid = form.validate_on_submit()
        if person_id is None and form.robot.data and not _robot_answer_ok(form.robot.data):
            form.robot.errors = ["Ce n'est pas la bonne réponse : répondez à la nouvelle question."]
            valid = False
        status = 422
        if valid:
            try:
                sent = contact_requests.send_request(
                    db,
                    email=form.email.data,
                    subject=form.subject.data,
                    message=form.message.data,
                    person_id=person_id,
                    address=request.remote_addr or "inconnue",
                )
            except throttle.Throttled as exc:
                db.rollback()
                error, status = exc.message, 429
            except DomainError as exc:
                db.rollback()
                field = getattr(form, exc.field or "", None)
                if field is None:
                    error = exc.message
                else:
                    field.errors = [exc.message]
            else:
                db.commit()
                return render_template("help/contact_sent.html", contact_request=sent)
    question = None
    if person_id is None:
        form.robot.data = ""
        question = _new_robot_question()
    return render_template("help/contact.html", form=form, error=error, question=question), status


# --- "Demandes d'assistance" -----------------------------------------------------------


@bp.get("/demandes")
@login_required
@require("contact_request.manage")
def requests():
    filters = contact_requests.RequestFilters.parse(request.args)
    page = paginate(get_db(), contact_requests.list_statement(filters))
    return render_template(
        "help/requests.html", page=page, filters=filters, labels=contact_requests.STATUS_LABELS
    )


def _load(contact_request_id: int) -> ContactRequest:
    """The request for its support, or for its sender; "Page introuvable" for others."""
    row = get_db().get(ContactRequest, contact_request_id)
    if row is None:
        abort(404)
    if can(g.get("active_role"), "contact_request.manage"):
        return row
    if row.person_id is None or row.person_id != current_user.person_id:
        abort(404)
    return row


def _render_request(row: ContactRequest, status: int = 200, **extra):
    db = get_db()
    manage = can(g.get("active_role"), "contact_request.manage")
    context = {
        "contact_request": row,
        "labels": contact_requests.STATUS_LABELS,
        "manage": manage,
        "sender": db.get(Person, row.person_id) if row.person_id else None,
        "answered_by": db.get(Person, row.answered_by_id) if row.answered_by_id else None,
        "form": extra.pop("form", None) or AnswerForm(formdata=None),
        **extra,
    }
    return render_template("help/requests_detail.html", **context), status


@bp.get("/demandes/<int:contact_request_id>")
@login_required
def request_detail(contact_request_id: int):
    db = get_db()
    row = _load(contact_request_id)
    if row.person_id == current_user.person_id:
        contact_requests.mark_read(db, row, current_user.person_id)
        db.commit()
    return _render_request(row)


@bp.post("/demandes/<int:contact_request_id>/repondre")
@login_required
@require("contact_request.manage")
def answer_request(contact_request_id: int):
    db = get_db()
    row = _load(contact_request_id)
    form = AnswerForm()
    if not form.validate_on_submit():
        return _render_request(row, 422, form=form)
    try:
        contact_requests.answer_request(
            db, row, answer=form.answer.data, actor_id=current_user.person_id
        )
    except ConflictError as exc:
        db.rollback()
        return _render_request(_load(contact_request_id), 409, form=form, error=exc.message)
    except DomainError as exc:
        db.rollback()
        form.answer.errors = [exc.message]
        return _render_request(_load(contact_request_id), 422, form=form)
    db.commit()
    flash(f"Votre réponse est envoyée à {row.email}.")
    return redirect(url_for("help.request_detail", contact_request_id=contact_request_id))


@bp.post("/demandes/<int:contact_request_id>/fermer")
@login_required
@require("contact_request.manage")
def close_request(contact_request_id: int):
    db = get_db()
    row = _load(contact_request_id)
    try:
        contact_requests.close_request(db, row, actor_id=current_user.person_id)
    except ConflictError as exc:
        db.rollback()
        return _render_request(_load(contact_request_id), 409, error=exc.message)
    db.commit()
    flash(f"La demande {row.reference} est fermée.")
    return redirect(url_for("help.request_detail", contact_request_id=contact_request_id))
