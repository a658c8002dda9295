"""A trainer's qualifications recorded by hand by INRS (an administrator): record one,
withdraw one recorded by mistake, download its PDF. Rules in
app/domain/qualifications.py. The person's page itself (/personnes/<id>) is the
"people" blueprint's; this one adds /personnes/<id>/qualifications…"""

from flask import (
    Blueprint,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import login_required

from app.blueprints.qualifications.forms import QualificationForm, WithdrawForm
from app.domain import qualifications as rules
from app.domain.access import require
from app.domain.uploads import UploadRefused, check_upload, has_file
from app.extensions import get_db
from app.models import CertificateModel
from app.web import send_stored_file

bp = Blueprint("qualifications", __name__, url_prefix="/personnes")


def _holder_or_404(person_id: int):
    person = rules.holder(get_db(), person_id)
    if person is None:
        abort(404)
    return person


def person_url(person_id: int) -> str:
    """The person's page under "Personnes", where their qualifications are listed."""
    return url_for("people.page", person_id=person_id)


def _form(formdata=None) -> QualificationForm:
    form = QualificationForm(formdata=formdata)
    groups: dict[str, list[tuple[str, str]]] = {}
    for choice in rules.model_choices(get_db()):
        label = f"{choice.name} ({choice.validity_months} mois)"
        if not choice.issued_in_sessions:
            label = (
                f"{choice.name} (délivré par l'INRS hors session, {choice.validity_months} mois)"
            )
        groups.setdefault(choice.group, []).append((str(choice.id), label))
    # the group None: the prompt, outside every dispositif
    form.certificate_model_id.choices = {None: [("", "— Choisissez un certificat —")], **groups}
    return form


def _values(form: QualificationForm) -> rules.QualificationInput:
    return rules.QualificationInput(
        certificate_model_id=form.certificate_model_id.data,
        valid_from=form.valid_from.data,
        valid_until=form.valid_until.data,
        note=form.note.data,
    )


def _render_new(person, form, status=200, errors=None):
    db = get_db()
    for name, message in (errors or {}).items():
        form[name].errors = [message]
    values = _values(form)
    end = rules.default_end(db, values.certificate_model_id, values.valid_from)
    if end is not None:
        months = db.get(CertificateModel, values.certificate_model_id).validity_months
        form.valid_until.description = (
            f"Laissée vide : le {end:%d/%m/%Y} (le début plus {months} mois de validité)."
        )
    return render_template(
        "qualifications/new.html", person=person, form=form, back_url=person_url(person.id)
    ), status


def _read_errors(form: QualificationForm) -> dict[str, str]:
    return {name: errs[0] for name, errs in form.errors.items() if errs}


@bp.route("/<int:person_id>/qualifications/nouvelle", methods=["GET", "POST"])
@login_required
@require("qualification.record")
def new(person_id: int):
    db = get_db()
    person = _holder_or_404(person_id)
    if request.method == "GET":
        return _render_new(person, _form())
    form = _form(request.form)
    form.validate()
    # every message at once: the form's reading and the rules' judgement
    errors = rules.check_fields(db, person.id, _values(form))
    errors.update(_read_errors(form))
    document = None
    upload = request.files.get("document")
    if has_file(upload):
        try:
            data, kind = check_upload(upload, field="document")
            document = (upload.filename, data, kind)
        except UploadRefused as exc:
            errors["document"] = exc.message
    if errors:
        return _render_new(person, form, 422, errors)
    try:
        qualification = rules.record_qualification(
            db,
            actor_id=g.active_role.person_id,
            person=person,
            values=_values(form),
            document=document,
        )
    except rules.FieldErrors as exc:
        db.rollback()
        return _render_new(person, form, 422, exc.errors)
    db.commit()
    flash(
        f"Qualification enregistrée pour {person.first_name} {person.last_name}, valable du "
        f"{qualification.valid_from:%d/%m/%Y} au {qualification.valid_until:%d/%m/%Y} : "
        "elle compte dès maintenant pour la vérification des formateurs."
    )
    return redirect(person_url(person.id))


@bp.post("/<int:person_id>/qualifications/nouvelle/verifier")
@login_required
@require("qualification.record")
def check_field(person_id: int):
    """Inline validation: the form with the message of the field just left and the end
    date a blank end would get; nothing is saved (the file is checked on save)."""
    person = _holder_or_404(person_id)
    form = _form(request.form)
    form.validate()
    errors = rules.check_fields(get_db(), person.id, _values(form))
    # a field still empty is not judged while the form is being filled in
    for name, message in _read_errors(form).items():
        if (request.form.get(name) or "").strip():
            errors.setdefault(name, message)
    for field in form:
        field.errors = []
    return _render_new(person, form, 422 if errors else 200, errors)


@bp.get("/<int:person_id>/qualifications")
@login_required
@require("qualification.record")
def index(person_id: int):
    """The person's qualifications recorded outside Forprev's sessions, each with its
    document and the button to withdraw it."""
    person = _holder_or_404(person_id)
    return render_template(
        "qualifications/index.html",
        person=person,
        qualifications=rules.qualifications_of(get_db(), person.id),
        withdraw_form=WithdrawForm(formdata=None),
        back_url=person_url(person.id),
    )


@bp.post("/<int:person_id>/qualifications/<int:qualification_id>/retirer")
@login_required
@require("qualification.record")
def withdraw(person_id: int, qualification_id: int):
    db = get_db()
    person = _holder_or_404(person_id)
    form = WithdrawForm()
    if not form.validate():
        abort(400)
    try:
        withdrawn = rules.withdraw_qualification(
            db,
            actor_id=g.active_role.person_id,
            person_id=person.id,
            qualification_id=qualification_id,
        )
    except LookupError:
        abort(404)
    db.commit()
    flash(
        f"La qualification du {withdrawn.valid_from:%d/%m/%Y} est retirée : elle ne compte "
        "plus pour la vérification des formateurs (l'historique garde ce qu'elle disait)."
    )
    return redirect(url_for("qualifications.index", person_id=person.id))


@bp.get("/<int:person_id>/qualifications/<int:qualification_id>/fichier")
@login_required
@require("qualification.record")
def download(person_id: int, qualification_id: int):
    db = get_db()
    person = _holder_or_404(person_id)
    qualification = rules.qualification_of(db, person.id, qualification_id)
    stored = rules.stored_file(db, qualification) if qualification else None
    if stored is None:
        abort(404)
    return send_stored_file(
        stored.id,
        name=stored.name,
        content_type=stored.content_type,
        size=stored.size,
        no_store=True,
    )
