"""Forgotten password, password links, applicant sign-up, first login, "Mon compte"."""

import hashlib
import hmac
import secrets

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required, login_user
from sqlmodel import select

from app.auth_user import (
    CurrentUser,
    end_login_sessions,
    keep_only_this_login_session,
    start_login_session,
)
from app.blueprints.account.forms import (
    ChangeEmailForm,
    ChangePasswordForm,
    ConfirmForm,
    ForgotPasswordForm,
    PreferencesForm,
    SetPasswordForm,
    SignupForm,
)
from app.clock import today
from app.domain import accounts, throttle
from app.domain.access import grants_of, require
from app.domain.errors import DomainError
from app.domain.passwords import password_rules as rules_of
from app.domain.qualifications import qualification_of, qualifications_of, stored_file
from app.extensions import get_db
from app.models import (
    Certificate,
    CertificateModel,
    Fund,
    Person,
    Scheme,
    SchemeLevel,
    StoredFile,
)
from app.web import send_stored_file

bp = Blueprint("account", __name__)

NUMBER_WORDS = ["zéro", "un", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf"]


def _client_address() -> str:
    return request.remote_addr or "inconnue"


def _throttle_account_forms():
    """Per-address allowance for the forms that send mail; None or the French message."""
    try:
        throttle.check_and_hit(throttle.ACCOUNT_FORMS_PER_ADDRESS, _client_address())
    except throttle.Throttled as exc:
        return exc
    return None


def _field_error(form, exc: DomainError) -> str | None:
    """Put a rule's message next to its field; return it if it belongs to no field."""
    field = getattr(form, exc.field, None) if exc.field else None
    if field is None:
        return exc.message
    field.errors = [*field.errors, exc.message]
    return None


# --- live password rules ---------------------------------------------------------------


@bp.post("/mot-de-passe/regles")
def password_rules():
    """htmx: the checklist for the password typed so far (field named by `champ`)."""
    name = request.args.get("champ", "password")
    if not name.replace("-", "").replace("_", "").isalnum() or len(name) > 40:
        abort(400)
    password = request.form.get(name, "")
    return render_template(
        "account/_password_rules.html", rules_id=f"{name}-regles", rules=rules_of(password)
    )


# --- forgotten password and password links ----------------------------------------------


@bp.route("/mot-de-passe-oublie", methods=["GET", "POST"])
def forgot_password():
    form = ForgotPasswordForm()
    error = None
    status = 200
    if form.validate_on_submit():
        blocked = _throttle_account_forms()
        if blocked:
            error, status = blocked.message, 429
        else:
            db = get_db()
            accounts.request_password_link(db, form.identifier.data)
            db.commit()
            return render_template("account/link_sent.html", title="Mot de passe oublié")
    elif request.method == "POST":
        status = 422
    return render_template("account/forgot.html", form=form, error=error), status


@bp.route("/mot-de-passe/nouveau/<token>", methods=["GET", "POST"])
def set_password(token: str):
    db = get_db()
    link = accounts.valid_link(db, token, accounts.Purpose.PASSWORD)
    if link is None:
        return render_template("account/link_invalid.html", message=accounts.LINK_INVALID), 410
    person = db.get(Person, link.person_id)
    form = SetPasswordForm()
    error = None
    if form.validate_on_submit():
        try:
            person = accounts.set_password_with_link(db, token, form.password.data)
        except DomainError as exc:
            error = _field_error(form, exc)
        else:
            db.commit()
            end_login_sessions(person.id)  # whoever knew the old password is out
            start_login_session(db, person)
            flash("Votre mot de passe est enregistré. Vous êtes connecté.", "info")
            return redirect(url_for("dashboard.index"))
    status = 422 if request.method == "POST" else 200
    return render_template(
        "account/set_password.html",
        form=form,
        error=error,
        person=person,
        rules=rules_of(form.password.data or ""),
    ), status


# --- applicant sign-up ------------------------------------------------------------------


def _new_robot_question() -> str:
    a, b = secrets.randbelow(9) + 1, secrets.randbelow(9) + 1
    nonce = secrets.token_hex(8)
    session["robot"] = {"nonce": nonce, "digest": _robot_digest(nonce, str(a + b))}
    return f"Combien font {NUMBER_WORDS[a]} plus {NUMBER_WORDS[b]} ? Répondez en chiffres."


def _robot_digest(nonce: str, answer: str) -> str:
    # the cookie is signed, not encrypted: keep only a keyed digest of the answer in it
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"{nonce}:{answer}".encode(), hashlib.sha256).hexdigest()


def _robot_answer_ok(answer: str) -> bool:
    expected = session.pop("robot", None)
    if not expected:
        return False
    given = _robot_digest(expected["nonce"], (answer or "").strip())
    return hmac.compare_digest(given, expected["digest"])


@bp.route("/creer-un-compte", methods=["GET", "POST"])
def signup():
    if current_user.is_authenticated:
        return redirect(url_for("dashboard.index"))
    form = SignupForm()
    error = None
    status = 200
    if request.method == "POST":
        valid = form.validate_on_submit()
        if form.robot.data and not _robot_answer_ok(form.robot.data):
            form.robot.errors = ["Ce n'est pas la bonne réponse : répondez à la nouvelle question."]
            valid = False
        if valid:
            blocked = _throttle_account_forms()
            if blocked:
                error, status = blocked.message, 429
            else:
                db = get_db()
                try:
                    accounts.create_applicant_account(
                        db,
                        last_name=form.last_name.data,
                        first_name=form.first_name.data,
                        birth_date=form.birth_date.data,
                        email=form.email.data,
                    )
                except DomainError as exc:
                    error = _field_error(form, exc)
                else:
                    db.commit()
                    return render_template(
                        "account/link_sent.html",
                        title="Création d'un compte demandeur",
                        signup=True,
                    )
        status = status if status != 200 else 422
    form.robot.data = ""
    question = _new_robot_question()
    return render_template("account/signup.html", form=form, error=error, question=question), status


@bp.get("/conditions-d-utilisation")
def terms():
    return render_template("account/terms.html")


# --- first login and "Mon compte" ------------------------------------------------------


def _fund_choices(db):
    funds = db.exec(select(Fund.id, Fund.name).order_by(Fund.name)).all()
    return [("", "— Choisissez votre caisse —"), *[(str(i), n) for i, n in funds]]


def _preferences_form(db, person: Person, *, formdata=True) -> PreferencesForm:
    form = PreferencesForm(
        prefix="pref",
        formdata=None if not formdata else request.form if request.method == "POST" else None,
        data={
            "notify_alerts": person.notify_alerts,
            "notify_notifications": person.notify_notifications,
            "notify_messages": person.notify_messages,
            "fund_id": person.trainer_fund_id,
        },
    )
    form.fund_id.choices = _fund_choices(db)
    return form


def _save_preferences(db, person: Person, form: PreferencesForm) -> str | None:
    try:
        accounts.save_preferences(
            db,
            person,
            alerts=form.notify_alerts.data,
            notifications=form.notify_notifications.data,
            messages=form.notify_messages.data,
            fund_id=form.fund_id.data,
        )
    except DomainError as exc:
        return _field_error(form, exc)
    return None


@bp.route("/premiere-connexion", methods=["GET", "POST"])
@login_required
def onboarding():
    db = get_db()
    person = db.get(Person, current_user.person_id)
    if person.onboarded_at is not None and request.method == "GET":
        return redirect(url_for("dashboard.index"))
    trainer = accounts.is_trainer(db, person.id)
    form = _preferences_form(db, person)
    error = None
    if form.validate_on_submit():
        error = _save_preferences(db, person, form)
        if error is None and not form.fund_id.errors:
            db.commit()
            login_user(CurrentUser(person))
            flash("Vos choix sont enregistrés. Vous pourrez les modifier dans « Mon compte ».")
            return redirect(url_for("dashboard.index"))
    status = 422 if request.method == "POST" else 200
    return render_template(
        "account/onboarding.html", form=form, error=error, trainer=trainer
    ), status


def _account_page(db, person, status=200, **forms):
    roles = grants_of(db, person.id)
    context = {
        "person": person,
        "roles": roles,
        "trainer": accounts.is_trainer(db, person.id),
        "fund": db.get(Fund, person.trainer_fund_id) if person.trainer_fund_id else None,
        "pref_form": forms.get("pref_form") or _preferences_form(db, person, formdata=False),
        "password_form": forms.get("password_form")
        or ChangePasswordForm(prefix="pw", formdata=None),
        "email_form": forms.get("email_form") or ChangeEmailForm(prefix="mail", formdata=None),
        "errors": forms.get("errors", {}),
    }
    context["password_rules"] = rules_of(context["password_form"].password.data or "")
    return render_template("account/index.html", **context), status


@bp.get("/mon-compte")
@login_required
def index():
    db = get_db()
    return _account_page(db, db.get(Person, current_user.person_id))


@bp.post("/mon-compte/notifications")
@login_required
def update_preferences():
    db = get_db()
    person = db.get(Person, current_user.person_id)
    form = _preferences_form(db, person)
    if form.validate_on_submit():
        error = _save_preferences(db, person, form)
        if error is None and not form.fund_id.errors:
            db.commit()
            flash("Vos choix de notifications sont enregistrés.")
            return redirect(url_for("account.index") + "#notifications")
    return _account_page(db, person, 422, pref_form=form)


@bp.post("/mon-compte/mot-de-passe")
@login_required
def change_password():
    db = get_db()
    person = db.get(Person, current_user.person_id)
    form = ChangePasswordForm(prefix="pw")
    if form.validate_on_submit():
        try:
            accounts.change_password(db, person, form.current_password.data, form.password.data)
        except DomainError as exc:
            _field_error(form, exc)
        else:
            db.commit()
            keep_only_this_login_session(person)
            flash("Votre mot de passe est modifié. Vos autres sessions ont été fermées.")
            return redirect(url_for("account.index"))
    return _account_page(db, person, 422, password_form=form)


@bp.post("/mon-compte/adresse")
@login_required
def change_email():
    db = get_db()
    person = db.get(Person, current_user.person_id)
    form = ChangeEmailForm(prefix="mail")
    if form.validate_on_submit():
        try:
            accounts.request_email_change(db, person, form.email.data, form.current_password.data)
        except DomainError as exc:
            _field_error(form, exc)
        else:
            db.commit()
            flash(
                f"Un e-mail de confirmation a été envoyé à {form.email.data.strip().lower()}. "
                "Votre adresse changera quand vous aurez suivi le lien qu'il contient "
                "(valable 72 heures)."
            )
            return redirect(url_for("account.index"))
    return _account_page(db, person, 422, email_form=form)


@bp.route("/mon-compte/adresse/<token>", methods=["GET", "POST"])
def confirm_email(token: str):
    """GET shows a button, POST confirms: a mail scanner opening the link changes nothing."""
    db = get_db()
    link = accounts.valid_link(db, token, accounts.Purpose.EMAIL)
    if link is None:
        return render_template("account/link_invalid.html", message=accounts.LINK_INVALID), 410
    if request.method == "GET":
        return render_template("account/confirm_email.html", new_email=link.new_email)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        person = accounts.confirm_email_change(db, token)
    except DomainError as exc:
        return render_template("account/link_invalid.html", message=exc.message), 410
    db.commit()
    flash(f"Votre adresse e-mail est désormais {person.email}.")
    if current_user.is_authenticated:
        return redirect(url_for("account.index"))
    return redirect(url_for("auth.login"))


# --- a trainer's own certificates ------------------------------------------------------


@bp.get("/mes-certificats")
@login_required
@require("certificate.mine")
def my_certificates():
    rows = (
        get_db()
        .exec(
            select(Certificate, CertificateModel, SchemeLevel, Scheme)
            .join(CertificateModel, CertificateModel.id == Certificate.certificate_model_id)
            .join(SchemeLevel, SchemeLevel.id == Certificate.scheme_level_id)
            .join(Scheme, Scheme.id == SchemeLevel.scheme_id)
            .where(
                Certificate.person_id == current_user.person_id, Certificate.valid_until >= today()
            )
            .order_by(Certificate.valid_until.desc())
        )
        .all()
    )
    qualifications = qualifications_of(get_db(), current_user.person_id, valid_on=today())
    return render_template("account/certificates.html", rows=rows, qualifications=qualifications)


@bp.get("/mes-certificats/<int:certificate_id>.pdf")
@login_required
@require("certificate.mine")
def my_certificate_pdf(certificate_id: int):
    db = get_db()
    certificate = db.get(Certificate, certificate_id)
    if (
        certificate is None
        or certificate.person_id != current_user.person_id
        or certificate.valid_until < today()
        or certificate.file_id is None
    ):
        abort(404)
    stored = db.get(StoredFile, certificate.file_id)
    return send_stored_file(
        stored.id, name=stored.name, content_type="application/pdf", size=stored.size
    )


@bp.get("/mes-certificats/qualifications/<int:qualification_id>.pdf")
@login_required
@require("certificate.mine")
def my_qualification_pdf(qualification_id: int):
    """The document of a qualification INRS recorded for the trainer, while it is valid."""
    db = get_db()
    qualification = qualification_of(db, current_user.person_id, qualification_id)
    stored = stored_file(db, qualification) if qualification else None
    if stored is None or qualification.valid_until < today():
        abort(404)
    return send_stored_file(
        stored.id, name=stored.name, content_type=stored.content_type, size=stored.size
    )
