"""Certification sessions: lists per role, the tabbed session page, the three-step flow.

Every view is thin: parse the form, call app/domain/cert_session_flow.py, render. A tab is
a URL (full page) and an htmx fragment (the panel), from the same templates.
"""

from functools import lru_cache

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
from sqlalchemy import asc, desc
from sqlalchemy.orm import aliased
from sqlmodel import select

from app.blueprints.cert_sessions.forms import (
    ActionForm,
    PasteForm,
    ReturnForm,
    SessionTabForm,
    TraineeForm,
    TrainerForm,
    session_tab_choices,
)
from app.clock import today, utcnow
from app.domain import cert_session_flow as flow
from app.domain.access import ScopeKey, cert_session_scope, require, scope_key
from app.domain.cert_session_rules import (
    FIELD_NAMES,
    SessionFields,
    allowed_end_dates,
    check_session_fields,
    declarable_accreditations,
    models_of,
    platforms_of,
)
from app.domain.errors import ConflictError, DomainError
from app.domain.notifications import close_tasks
from app.domain.trainees import (
    TraineeInput,
    likely_duplicates,
    parse_block,
    prefill,
    trainees_of,
)
from app.domain.trainer_check import check_trainer
from app.extensions import connection_of, get_db
from app.ids import parse_id
from app.models import (
    Bundle,
    CertificateModel,
    CertSession,
    Organization,
    Person,
    Platform,
    Scheme,
    SchemeLevel,
    StoredFile,
)
from app.models.cert_sessions import SESSION_STATE_LABELS, SessionState
from app.models.people import Role
from app.pagination import paginate
from app.tabs import after_save, go_to, next_tab, posted_version, render_tab, tab_list
from app.tabs import conflict as conflict_response
from app.web import send_stored_file

bp = Blueprint("cert_sessions", __name__, url_prefix="/sessions")

TABS = {
    "session": "Session",
    "formateur": "Formateur",
    "stagiaires": "Stagiaires",
    "telechargements": "Téléchargements",
    "historique": "Historique",
}
SORTS = {
    "numero": CertSession.id,
    "fin": CertSession.end_date,
    "modification": CertSession.updated_at,
    "etat": CertSession.state,
}


# --- lists -----------------------------------------------------------------------------

# the list's columns and joins, built once (each request adds its scope, filters, order);
# columns only, no session objects: the rows come through the connection (rows_of)
_actor = aliased(Person)
_LIST = (
    select(
        CertSession.id,
        CertSession.end_date,
        CertSession.updated_at,
        CertSession.state,
        CertSession.return_comment,
        Organization.name.label("org_name"),
        Scheme.code.label("scheme_code"),
        SchemeLevel.level,
        CertificateModel.name.label("model_name"),
        _actor.last_name.label("actor_last"),
        _actor.first_name.label("actor_first"),
    )
    .join(Organization, Organization.id == CertSession.organization_id)
    .outerjoin(SchemeLevel, SchemeLevel.id == CertSession.scheme_level_id)
    .outerjoin(Scheme, Scheme.id == SchemeLevel.scheme_id)
    .outerjoin(CertificateModel, CertificateModel.id == CertSession.certificate_model_id)
    .outerjoin(_actor, _actor.id == CertSession.last_actor_id)
)
_SCHEME_CODES = select(Scheme.code).order_by(Scheme.code)


@lru_cache(maxsize=512)
def _list_statement(scope: ScopeKey, state, scheme, sort: str, direction: str):
    """The list's statement for its scope, filters and order, built once: a pure function
    of its arguments, so a statement kept for one person is only ever another's when
    their scope (entity, person) is the same. Kept, it is compiled and keyed once."""
    query = _LIST.where(cert_session_scope(scope))
    if scope.role == Role.FORMATEUR:
        # a draft is the entity's business until it is sent to the trainer
        query = query.where(CertSession.state != SessionState.DRAFT)
    if state is not None:
        query = query.where(CertSession.state == state)
    if scheme:
        query = query.where(Scheme.code == scheme)
    by = asc if direction == "asc" else desc
    return query.order_by(by(SORTS[sort]), desc(CertSession.id))


@bp.get("/")
@login_required
@require("cert_session.list")
def index():
    db = get_db()
    role = g.active_role
    state = request.args.get("etat") or None
    scheme = request.args.get("dispositif") or None
    sort = request.args.get("tri", "modification")
    direction = request.args.get("ordre", "desc")
    if sort not in SORTS:
        sort = "modification"
    if role.role == Role.FORMATEUR and state is None and request.args.get("vue") != "toutes":
        state = SessionState.TRAINER
    if state not in SESSION_STATE_LABELS:
        state = None
    order = "asc" if direction == "asc" else "desc"
    page = paginate(db, _list_statement(scope_key(role), state, scheme, sort, order))
    schemes = connection_of(db).execute(_SCHEME_CODES).scalars().all()
    return render_template(
        "cert_sessions/list.html",
        page=page,
        labels=SESSION_STATE_LABELS,
        state=state,
        scheme=scheme,
        sort=sort,
        direction=direction,
        schemes=schemes,
        can_declare=role.role in flow.ENTITY_ROLES,
        trainer=role.role == Role.FORMATEUR,
    )


def _new_session() -> CertSession:
    """A session not saved yet, or back to the list saying why none can be declared."""
    try:
        return flow.new_session(get_db(), g.active_role)
    except DomainError as exc:
        flash(exc.message, "error")
        abort(redirect(url_for("cert_sessions.index")))


@bp.get("/nouvelle")
@login_required
@require("cert_session.declare")
def new():
    """The Session tab of a session not saved yet: it is numbered on its first save."""
    return _render(_new_session(), "session")


@bp.post("/nouvelle")
@login_required
@require("cert_session.declare")
def create():
    """The first save of a new session; `aller` names the tab to show next."""
    db = get_db()
    unsaved = _new_session()
    form = _session_form(db, unsaved, formdata=request.form)
    values = _fields_from(form)
    if form.validate():
        cert_session, errors = flow.create_session(db, g.active_role, values)
    else:  # every message at once: the rules check the fields that could be read
        cert_session, errors = None, flow.first_save_errors(db, g.active_role, values)
    if cert_session is None:
        return _render(unsaved, "session", 422, form=form, errors=errors)
    db.commit()
    flash(f"Session n° {cert_session.id} créée : onglet Session enregistré.")
    # the whole page changes: its title carries the number now
    return go_to(
        url_for("cert_sessions.tab", cert_session_id=cert_session.id, tab=_next_tab(cert_session))
    )


@bp.post("/nouvelle/verifier")
@login_required
@require("cert_session.declare")
def check_new_session_field():
    """Inline validation of a session not saved yet (see check_session_field)."""
    return _check_fields(_new_session())


# --- the session page -----------------------------------------------------------------


def _load(cert_session_id: int) -> CertSession:
    cert_session = flow.get_for_role(get_db(), g.active_role, cert_session_id)
    if cert_session is None:
        abort(404)
    if g.active_role.role == Role.FORMATEUR and cert_session.state == SessionState.DRAFT:
        abort(404)
    return cert_session


def _tabs_for(cert_session: CertSession) -> list[str]:
    if cert_session.id is None:
        return ["session", "formateur", "stagiaires"]  # each saves it first
    if g.active_role.role == Role.FORMATEUR:
        return ["session", "stagiaires", "historique"]
    if cert_session.state != SessionState.CLOSED:
        return [t for t in TABS if t != "telechargements"]
    return list(TABS)


def _next_tab(cert_session: CertSession) -> str:
    return next_tab(_tabs_for(cert_session), "session")


def _save_url(cert_session: CertSession, go: str | None = None) -> str:
    if cert_session.id is None:
        return url_for("cert_sessions.create", aller=go)
    return url_for("cert_sessions.save_session", cert_session_id=cert_session.id, aller=go)


def _tab_url(cert_session: CertSession, tab: str) -> str:
    if cert_session.id is None:
        return url_for("cert_sessions.new")
    return url_for("cert_sessions.tab", cert_session_id=cert_session.id, tab=tab)


def _session_form(db, cert_session, formdata=None) -> SessionTabForm:
    form = SessionTabForm(
        formdata=formdata,
        data={
            "version": cert_session.version,
            "accreditation_id": cert_session.accreditation_id,
            "certificate_model_id": cert_session.certificate_model_id,
            "location": cert_session.location,
            "platform_id": cert_session.platform_id,
            "postal_code": cert_session.postal_code,
            "city": cert_session.city,
            "is_refresher": None
            if cert_session.is_refresher is None
            else ("mac" if cert_session.is_refresher else "initial"),
            "end_date": cert_session.end_date,
        },
    )
    if cert_session.id is None:
        del form.version  # a session not saved yet has no version to name
    elif formdata is not None:
        form.version.data = posted_version(formdata)
    if formdata is not None:
        _platform_address(db, form)
    return form


def _platform_address(db, form: SessionTabForm) -> None:
    """A platform chosen as the lieu, the postal code and town left empty: the platform's
    (the rules still check the platform belongs to the accreditation)."""
    platform_id = parse_id(str(form.platform_id.data or ""))
    if platform_id is None or (form.postal_code.data or "").strip() or (form.city.data or ""):
        return
    platform = db.get(Platform, platform_id)
    if platform is not None and str(platform.accreditation_id) == str(form.accreditation_id.data):
        form.postal_code.data, form.city.data = platform.postal_code, platform.city


def _session_tab_context(db, cert_session, form, errors=None):
    choices = declarable_accreditations(db, g.active_role)
    chosen = next((c for c in choices if c.accreditation_id == form.accreditation_id.data), None)
    models = models_of(db, chosen.scheme_level_id) if chosen else []
    platforms = (
        platforms_of(db, chosen.accreditation_id) if chosen and chosen.needs_platform else []
    )
    session_tab_choices(form, choices, models, platforms)
    for name, message in (errors or {}).items():
        if name == "location" and chosen and chosen.needs_platform:
            name = "platform_id"  # the platform list stands where the free text would be
        getattr(form, name).errors = [message]
    first, last = allowed_end_dates()
    check_url = (
        url_for("cert_sessions.check_new_session_field")
        if cert_session.id is None
        else url_for("cert_sessions.check_session_field", cert_session_id=cert_session.id)
    )

    def live(name: str, whole: bool = False, **attrs) -> dict:
        """htmx attributes for inline validation of one field of the Session tab."""
        target = "#session-onglets" if whole else f"#{name}-champ"
        return {
            "data-hx-post": check_url,
            "data-hx-trigger": "change",
            "data-hx-include": "#form-session",
            "data-hx-target": target,
            "data-hx-select": target,
            "data-hx-swap": "outerHTML",
            **attrs,
        }

    return {
        "live": live,
        "form": form,
        "needs_platform": bool(chosen and chosen.needs_platform),
        "window": (first, last),
    }


def _fields_from(form: SessionTabForm) -> SessionFields:
    refresher = form.is_refresher.data
    return SessionFields(
        accreditation_id=form.accreditation_id.data,
        certificate_model_id=form.certificate_model_id.data,
        location=form.location.data,
        platform_id=form.platform_id.data,
        postal_code=form.postal_code.data,
        city=form.city.data,
        is_refresher=None if refresher not in ("initial", "mac") else refresher == "mac",
        end_date=form.end_date.data,
    )


def _read_only_context(db, cert_session):
    level = (
        db.get(SchemeLevel, cert_session.scheme_level_id) if cert_session.scheme_level_id else None
    )
    return {
        "scheme": db.get(Scheme, level.scheme_id) if level else None,
        "level": level,
        "model": db.get(CertificateModel, cert_session.certificate_model_id)
        if cert_session.certificate_model_id
        else None,
        "platform": db.get(Platform, cert_session.platform_id)
        if cert_session.platform_id
        else None,
        "trainer": db.get(Person, cert_session.trainer_id) if cert_session.trainer_id else None,
    }


def _unsaved_fields(cert_session: CertSession, form: SessionTabForm) -> set[str]:
    """The fields whose value on screen is not saved, unreadable ones included (before the
    rules' messages are put on the form)."""
    unreadable = {
        "location" if name == "platform_id" else name
        for name in form.errors
        if name in FIELD_NAMES or name == "platform_id"
    }
    return flow.unsaved_fields(cert_session, _fields_from(form)) | unreadable


def _render(cert_session, tab, status=200, **extra):
    """The page, or its panel for htmx; every panel carries the session's current version.
    `_readiness=False`: the box before sending to the trainer is left empty (a field's
    inline check, whose answer keeps only that field)."""
    readiness = extra.pop("_readiness", True)
    db = get_db()
    role = g.active_role
    if tab not in _tabs_for(cert_session):
        tab = "stagiaires"  # e.g. a refused "Générer": the downloads tab does not exist yet
    # a session not saved yet is only its Session tab: nothing to send or delete
    actions = (
        {flow.Action.EDIT} if cert_session.id is None else flow.allowed_actions(role, cert_session)
    )
    editable = flow.Action.EDIT in actions
    context = {
        "cs": cert_session,
        "tab": tab,
        "tabs": tab_list(TABS, _tabs_for(cert_session), lambda key: _tab_url(cert_session, key)),
        "state_label": SESSION_STATE_LABELS[SessionState(cert_session.state)],
        "organization": db.get(Organization, cert_session.organization_id),
        "actions": actions,
        "A": flow.Action,
        "editable": editable,
        "action_form": ActionForm(formdata=None, data={"version": cert_session.version}),
        "save_url": lambda go=None: _save_url(cert_session, go),
        "generation_opens_on": flow.generation_opens_on(cert_session),
        **_read_only_context(db, cert_session),
    }
    unsaved: set[str] = set()
    if tab == "session" and editable:
        form = extra.pop("form", None)
        if form is not None:  # as posted: a refused save or a live check
            unsaved = _unsaved_fields(cert_session, form)
        form = form or _session_form(db, cert_session)
        context.update(_session_tab_context(db, cert_session, form, extra.pop("errors", None)))
    if tab == "formateur":
        context["trainer_form"] = extra.pop("trainer_form", None) or TrainerForm(
            formdata=None, data={"version": cert_session.version}
        )
        context.setdefault("check", extra.pop("check", None))
    if tab == "stagiaires":
        trainees = trainees_of(db, cert_session.id)
        context["trainees"] = trainees
        context["likely"] = likely_duplicates(trainees)
        context["trainee_form"] = extra.pop("trainee_form", None) or TraineeForm(
            formdata=None, data={"version": cert_session.version}
        )
        context["paste_form"] = extra.pop("paste_form", None) or PasteForm(
            formdata=None, data={"version": cert_session.version}
        )
        context["return_form"] = extra.pop("return_form", None) or ReturnForm(
            formdata=None, data={"version": cert_session.version}
        )
        context["results"] = extra.pop("results", None) or {t.id: t.passed for t in trainees}
        context["level_number"] = context["level"].level if context["level"] else 1
    if tab == "historique":
        context["events"] = flow.history(db, cert_session.id)
    if tab == "telechargements":
        context["bundle"] = _bundle(db, cert_session)
        context["available"] = _available(cert_session)
    if flow.Action.SEND_TO_TRAINER in actions and not readiness:
        context["problems"], context["warnings"] = [], []
    elif flow.Action.SEND_TO_TRAINER in actions:
        problems, context["warnings"] = flow.readiness(
            db, role, cert_session, unsaved, refused=status >= 400
        )
        check = context.get("check")
        if check is not None and not check.ok:
            # the saved trainer fails as the one just checked: said once, in the check
            repeated = f"Formateur : {check.failure}"
            problems = [
                "Formateur : le formateur enregistré ne convient pas, pour la même raison "
                "(voir la vérification ci-dessus)."
                if problem == repeated
                else problem
                for problem in problems
            ]
        context["problems"] = problems
    context.update(extra)
    return render_tab(
        "cert_sessions/page.html",
        "cert_sessions/_panel.html",
        url=_tab_url(cert_session, tab),
        status=status,
        **context,
    )


@bp.get("/<int:cert_session_id>")
@login_required
@require("cert_session.list")
def show(cert_session_id: int):
    cert_session = _load(cert_session_id)
    return redirect(url_for("cert_sessions.tab", cert_session_id=cert_session.id, tab="session"))


@bp.get("/<int:cert_session_id>/<tab>")
@login_required
@require("cert_session.list")
def tab(cert_session_id: int, tab: str):
    cert_session = _load(cert_session_id)
    if tab not in _tabs_for(cert_session):
        abort(404)
    return _render(cert_session, tab)


def _conflict(cert_session_id: int, tab: str, message: str):
    db = get_db()
    return conflict_response(
        db,
        lambda: flow.get_for_role(db, g.active_role, cert_session_id),
        lambda fresh, status, **extra: _render(fresh, tab, status, **extra),
        message,
    )


@bp.post("/<int:cert_session_id>/session")
@login_required
@require("cert_session.declare")
def save_session(cert_session_id: int):
    """Save the Session tab (draft); `aller` names the tab to show next."""
    db = get_db()
    cert_session = _load(cert_session_id)
    form = _session_form(db, cert_session, formdata=request.form)
    go = _next_tab(cert_session)
    if not form.validate():
        # every message at once: the rules check the fields that could be read
        errors = check_session_fields(db, g.active_role, _fields_from(form))
        return _render(cert_session, "session", 422, form=form, errors=errors)
    try:
        errors = flow.save_session_tab(
            db, g.active_role, cert_session, form.version.data, _fields_from(form)
        )
    except ConflictError as exc:
        return _conflict(cert_session_id, "session", exc.message)
    except DomainError as exc:
        return _render(cert_session, "session", 422, form=form, error=exc.message)
    if errors:
        return _render(cert_session, "session", 422, form=form, errors=errors)
    db.commit()
    return after_save(
        lambda **extra: _render(cert_session, go, **extra),
        _tab_url(cert_session, go),
        "Onglet Session enregistré.",
    )


@bp.post("/<int:cert_session_id>/session/verifier")
@login_required
@require("cert_session.declare")
def check_session_field(cert_session_id: int):
    """Inline validation: the Session tab with the message of the field just left (and
    the choices that follow from the dispositif); nothing is saved."""
    return _check_fields(_load(cert_session_id))


def _check_fields(cert_session: CertSession):
    db = get_db()
    form = _session_form(db, cert_session, formdata=request.form)
    form.validate()
    # a draft checks only what was typed: every message shown is about a field filled in
    errors = check_session_fields(db, g.active_role, _fields_from(form))
    status = 422 if errors or form.errors else 200
    # a field's check keeps only that field's box (hx-select): what the whole tab says
    # before sending to the trainer is not worked out for nothing
    one_field = (request.headers.get("HX-Target") or "").endswith("-champ")
    return _render(
        cert_session, "session", status, form=form, errors=errors, _readiness=not one_field
    )


@bp.post("/<int:cert_session_id>/formateur")
@login_required
@require("cert_session.declare")
def verify_trainer(cert_session_id: int):
    """ "Lancer la vérification": the four checks; the trainer is kept when all pass."""
    db = get_db()
    cert_session = _load(cert_session_id)
    form = TrainerForm()
    form.version.data = posted_version(request.form)
    if not form.validate_on_submit():
        return _render(cert_session, "formateur", 422, trainer_form=form)
    if not cert_session.scheme_level_id:
        return _render(
            cert_session,
            "formateur",
            422,
            trainer_form=form,
            error="Choisissez d'abord le dispositif et le niveau (onglet Session).",
        )
    number = (form.forprev_number.data or "").strip()
    if not number and not (form.last_name.data and form.first_name.data and form.birth_date.data):
        form.forprev_number.errors = [
            "Indiquez le numéro Forprev, ou bien le nom, le prénom et la date de naissance."
        ]
        return _render(cert_session, "formateur", 422, trainer_form=form)
    check = check_trainer(
        db,
        scheme_level_id=cert_session.scheme_level_id,
        end_date=cert_session.end_date,
        forprev_number=number or None,
        last_name=form.last_name.data,
        first_name=form.first_name.data,
        birth_date=form.birth_date.data,
    )
    if not check.ok:
        return _render(cert_session, "formateur", 422, trainer_form=form, check=check)
    try:
        flow.save_trainer(db, g.active_role, cert_session, form.version.data, check.person)
    except ConflictError as exc:
        return _conflict(cert_session_id, "formateur", exc.message)
    except DomainError as exc:
        return _render(cert_session, "formateur", 422, trainer_form=form, error=exc.message)
    db.commit()
    fresh = TrainerForm(formdata=None, data={"version": cert_session.version})
    return _render(cert_session, "formateur", trainer_form=fresh, check=check)


@bp.post("/<int:cert_session_id>/stagiaires")
@login_required
@require("cert_session.declare")
def add_trainee(cert_session_id: int):
    db = get_db()
    cert_session = _load(cert_session_id)
    form = TraineeForm()
    form.version.data = posted_version(request.form)
    form.validate()
    if "prefill" in request.form:
        person = prefill(db, form.forprev_number.data or "")
        if person is None:
            form.forprev_number.errors = ["Aucune personne trouvée avec ce numéro Forprev."]
            return _render(cert_session, "stagiaires", 422, trainee_form=form)
        form.last_name.data, form.first_name.data = person.last_name, person.first_name
        form.birth_date.data, form.email.data = person.birth_date, person.email
        form.birth_date.raw_data = None
        return _render(cert_session, "stagiaires", trainee_form=form)
    if form.birth_date.errors:
        return _render(cert_session, "stagiaires", 422, trainee_form=form)
    person = prefill(db, form.forprev_number.data) if form.forprev_number.data else None
    values = TraineeInput(
        last_name=form.last_name.data or "",
        first_name=form.first_name.data or "",
        birth_date=form.birth_date.data,
        email=form.email.data,
        person_id=person.id if person else None,
    )
    try:
        errors = flow.add_trainees(db, g.active_role, cert_session, form.version.data, [values])
    except ConflictError as exc:
        return _conflict(cert_session_id, "stagiaires", exc.message)
    except DomainError as exc:
        return _render(cert_session, "stagiaires", 422, trainee_form=form, error=exc.message)
    if errors:
        for name, message in errors.items():
            getattr(form, name).errors = [message]
        return _render(cert_session, "stagiaires", 422, trainee_form=form)
    db.commit()
    return _render(
        cert_session,
        "stagiaires",
        saved=f"{values.first_name} {values.last_name.upper()} ajouté(e).",
    )


@bp.post("/<int:cert_session_id>/stagiaires/coller")
@login_required
@require("cert_session.declare")
def paste_trainees(cert_session_id: int):
    db = get_db()
    cert_session = _load(cert_session_id)
    form = PasteForm()
    form.version.data = posted_version(request.form)
    if not form.validate():
        return _render(cert_session, "stagiaires", 422, paste_form=form)
    level = (
        db.get(SchemeLevel, cert_session.scheme_level_id) if cert_session.scheme_level_id else None
    )
    lines = parse_block(
        form.block.data,
        level=level.level if level else 1,
        existing=trainees_of(db, cert_session.id),
    )
    if not lines:
        form.block.errors = ["Collez au moins une ligne : nom;prénom;date de naissance."]
        return _render(cert_session, "stagiaires", 422, paste_form=form)
    bad = [line for line in lines if line.errors]
    if bad:
        # nothing is added: the block stays in the field, each bad line pointed out
        return _render(cert_session, "stagiaires", 422, paste_form=form, bad_lines=bad)
    try:
        errors = flow.add_trainees(
            db, g.active_role, cert_session, form.version.data, [line.trainee for line in lines]
        )
    except ConflictError as exc:
        return _conflict(cert_session_id, "stagiaires", exc.message)
    except DomainError as exc:
        return _render(cert_session, "stagiaires", 422, paste_form=form, error=exc.message)
    if errors:
        return _render(
            cert_session, "stagiaires", 422, paste_form=form, error=" ".join(errors.values())
        )
    db.commit()
    return _render(cert_session, "stagiaires", saved=f"{len(lines)} stagiaires ajoutés.")


@bp.post("/<int:cert_session_id>/stagiaires/<int:trainee_id>/supprimer")
@login_required
@require("cert_session.declare")
def remove_trainee(cert_session_id: int, trainee_id: int):
    db = get_db()
    cert_session = _load(cert_session_id)
    try:
        flow.remove_trainee(
            db, g.active_role, cert_session, posted_version(request.form), trainee_id
        )
    except ConflictError as exc:
        return _conflict(cert_session_id, "stagiaires", exc.message)
    except DomainError as exc:
        return _render(cert_session, "stagiaires", 422, error=exc.message)
    db.commit()
    return _render(cert_session, "stagiaires", saved="Stagiaire retiré de la session.")


def _transition(cert_session_id: int, tab: str, run, success: str):
    db = get_db()
    cert_session = _load(cert_session_id)
    version = posted_version(request.form)
    try:
        run(db, cert_session, version)
    except ConflictError as exc:
        return _conflict(cert_session_id, tab, exc.message)
    except DomainError as exc:
        return _render(cert_session, tab, 422, error=exc.message)
    db.commit()
    flash(success)
    return go_to(_tab_url(cert_session, tab))


@bp.post("/<int:cert_session_id>/envoyer")
@login_required
@require("cert_session.declare")
def send_to_trainer(cert_session_id: int):
    return _transition(
        cert_session_id,
        "stagiaires",
        lambda db, cs, v: flow.send_to_trainer(db, g.active_role, cs, v),
        "La session est envoyée au formateur.",
    )


def _posted_results(trainees) -> dict[int, bool | None]:
    results = {}
    for trainee in trainees:
        value = request.form.get(f"resultat-{trainee.id}")
        results[trainee.id] = {"reussite": True, "echec": False}.get(value)
    return results


@bp.post("/<int:cert_session_id>/resultats")
@login_required
@require("cert_session.results")
def trainer_results(cert_session_id: int):
    """The trainer: save the results, send them, or return the session with a comment."""
    db = get_db()
    cert_session = _load(cert_session_id)
    form = ReturnForm()
    version = posted_version(request.form)
    results = _posted_results(trainees_of(db, cert_session.id))
    action = request.form.get("action", "save")
    try:
        if action == "send":
            flow.send_results(db, g.active_role, cert_session, version, results)
            message = "Les résultats sont envoyés à l'entité."
        elif action == "return":
            flow.return_to_entity(db, g.active_role, cert_session, version, form.comment.data)
            message = "La session est retournée à l'entité avec votre commentaire."
        else:
            flow.record_results(db, g.active_role, cert_session, version, results)
            message = "Résultats enregistrés."
    except ConflictError as exc:
        return _conflict(cert_session_id, "stagiaires", exc.message)
    except DomainError as exc:
        db.rollback()
        if exc.field == "comment":
            form.comment.errors = [exc.message]
            return _render(
                cert_session, "stagiaires", 422, return_form=form, results=results, action=action
            )
        return _render(
            cert_session,
            "stagiaires",
            422,
            error=exc.message,
            results=results,
            return_form=form,
            action=action,
        )
    db.commit()
    flash(message)
    return go_to(_tab_url(cert_session, "stagiaires"))


@bp.post("/<int:cert_session_id>/modifier")
@login_required
@require("cert_session.declare")
def modify(cert_session_id: int):
    return _transition(
        cert_session_id,
        "session",
        lambda db, cs, v: flow.modify(db, g.active_role, cs, v),
        "La session est de nouveau en saisie ; envoyez-la au formateur une fois corrigée.",
    )


@bp.post("/<int:cert_session_id>/generer")
@login_required
@require("cert_session.declare")
def generate(cert_session_id: int):
    return _transition(
        cert_session_id,
        "telechargements",
        lambda db, cs, v: flow.generate(db, g.active_role, cs, v),
        "La session est clôturée : les certificats des stagiaires en réussite sont en cours "
        "de génération.",
    )


@bp.route("/<int:cert_session_id>/supprimer", methods=["GET", "POST"])
@login_required
@require("cert_session.declare")
def delete(cert_session_id: int):
    cert_session = _load(cert_session_id)
    if request.method == "GET":
        if flow.Action.DELETE not in flow.allowed_actions(g.active_role, cert_session):
            abort(403)
        return render_template(
            "cert_sessions/delete.html",
            cs=cert_session,
            form=ActionForm(formdata=None, data={"version": cert_session.version}),
        )
    db = get_db()
    try:
        flow.delete_session(db, g.active_role, cert_session, posted_version(request.form))
    except ConflictError as exc:
        return _conflict(cert_session_id, "session", exc.message)
    except DomainError as exc:
        flash(exc.message, "error")
        return redirect(url_for("cert_sessions.index"))
    db.commit()
    flash(f"La session n° {cert_session_id} est supprimée.")
    return redirect(url_for("cert_sessions.index"))


# --- after generation: progress, downloads ------------------------------------------


def _bundle(db, cert_session):
    return db.exec(select(Bundle).where(Bundle.cert_session_id == cert_session.id)).first()


def _available(cert_session: CertSession) -> bool:
    """The certificates stay downloadable until the day before the purge."""
    return cert_session.purge_after is not None and today() < cert_session.purge_after


def _closed_for_entity(cert_session_id: int) -> CertSession:
    cert_session = _load(cert_session_id)
    if cert_session.state != SessionState.CLOSED or g.active_role.role not in flow.ENTITY_ROLES:
        abort(404)
    return cert_session


@bp.get("/<int:cert_session_id>/progression")
@login_required
@require("cert_session.declare")
def progress(cert_session_id: int):
    """Polled every second by the Téléchargements tab; 286 tells htmx to stop."""
    db = get_db()
    cert_session = _closed_for_entity(cert_session_id)
    bundle = _bundle(db, cert_session)
    finished = bundle is not None and bundle.status in ("pret", "echec")
    html = render_template(
        "cert_sessions/_progress.html",
        cs=cert_session,
        bundle=bundle,
        available=_available(cert_session),
        action_form=ActionForm(formdata=None, data={"version": cert_session.version}),
    )
    return html, 286 if finished else 200


def _download(cert_session_id: int, which: str):
    db = get_db()
    cert_session = _closed_for_entity(cert_session_id)
    bundle = _bundle(db, cert_session)
    file_id = getattr(bundle, f"{which}_file_id", None) if bundle else None
    if file_id is None or bundle.status != "pret":
        abort(404)
    if not _available(cert_session):
        abort(410)
    stored = db.get(StoredFile, file_id)
    return send_stored_file(
        file_id,
        name=stored.name,
        content_type=stored.content_type,
        size=stored.size,
        no_store=True,
    )


@bp.get("/<int:cert_session_id>/certificats.zip")
@login_required
@require("cert_session.declare")
def download_zip(cert_session_id: int):
    return _download(cert_session_id, "zip")


@bp.get("/<int:cert_session_id>/certificats.pdf")
@login_required
@require("cert_session.declare")
def download_pdf(cert_session_id: int):
    return _download(cert_session_id, "pdf")


@bp.post("/<int:cert_session_id>/telecharges")
@login_required
@require("cert_session.declare")
def mark_downloaded(cert_session_id: int):
    """ "Certificats téléchargés": the to-do item goes away."""
    db = get_db()
    cert_session = _closed_for_entity(cert_session_id)
    bundle = _bundle(db, cert_session)
    downloaded = request.form.get("telecharges") == "oui"
    cert_session.downloaded_at = utcnow() if downloaded else None
    db.add(cert_session)
    if downloaded and bundle is not None:
        close_tasks(db, "bundle", bundle.id)
    db.commit()
    flash("C'est noté : les certificats sont téléchargés." if downloaded else "C'est noté.")
    return redirect(
        url_for("cert_sessions.tab", cert_session_id=cert_session.id, tab="telechargements")
    )


@bp.post("/<int:cert_session_id>/certificats/relancer")
@login_required
@require("cert_session.declare")
def retry_generation(cert_session_id: int):
    db = get_db()
    cert_session = _closed_for_entity(cert_session_id)
    bundle = _bundle(db, cert_session)
    if bundle is not None and bundle.status == "pret":
        abort(409)
    if bundle is not None:
        # asked for by a person: the automatic resumes start over
        bundle.status, bundle.error, bundle.resumes = "en_cours", None, 0
        db.add(bundle)
    flow.start_certificate_job(db, cert_session.id)
    db.commit()
    flash("La génération des certificats est relancée.")
    return redirect(
        url_for("cert_sessions.tab", cert_session_id=cert_session.id, tab="telechargements")
    )
