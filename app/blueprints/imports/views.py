"""Import (administrator): a CSV file of existing data is checked before anything is
stored, then run by a worker — first as an essai, then for real — with its progress
polled by htmx and its report (counts, refused lines, the refused lines as a CSV).

Thin views: the rules are in app/domain/importing/."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from markupsafe import Markup
from werkzeug.exceptions import RequestEntityTooLarge

from app.blueprints.imports.forms import MODES, ActionForm, ImportForm
from app.domain.access import can, load_active_role, require
from app.domain.errors import DomainError
from app.domain.importing import runner
from app.domain.importing.csvfile import HEAD_BYTES
from app.domain.importing.kinds import KINDS
from app.domain.storage import CHUNK_SIZE
from app.domain.uploads import has_file
from app.domain.uploads import too_large_message as upload_too_large_message
from app.extensions import get_db
from app.models import ImportRun, StoredFile
from app.pagination import paginate
from app.web import ERROR_PAGES, send_stored_file

bp = Blueprint("imports", __name__, url_prefix="/import")


class _TooLarge(Exception):
    pass


@bp.url_value_preprocessor
def _import_cap(endpoint: str | None, _values) -> None:
    """The import's file has its own cap (FORPREV_IMPORT_MAX_MB, far above a PDF's), still
    checked by Werkzeug on the request's length before its body is read. URL value
    preprocessors run before every before_request function (the CSRF check reads the
    form there), so the request's cap is set before anything reads it."""
    if endpoint == "imports.start":
        request.max_content_length = runner.max_import_bytes() + 64 * 1024


def _page(form: ImportForm, status: int = 200):
    db = get_db()
    return (
        render_template(
            "imports/index.html",
            form=form,
            page=paginate(db, runner.runs_statement()),
            kinds=KINDS.values(),
            labels=runner.STATUS_LABELS,
            kind_label=runner.kind_label,
        ),
        status,
    )


@bp.get("/")
@login_required
@require("import.run")
def index():
    return _page(ImportForm(formdata=None))


@bp.post("/")
@login_required
@require("import.run")
def start():
    db = get_db()
    form = ImportForm()
    valid = form.validate_on_submit()
    kind, mode = form.kind.data, form.mode.data
    if kind not in KINDS:
        form.kind.errors = ["Choisissez le type de fichier."]
        valid = False
    if mode not in dict(MODES):
        form.mode.errors = ["Choisissez l'essai ou l'import réel."]
        valid = False
    file = request.files.get("fichier")
    head = b""
    if not has_file(file):
        form.fichier.errors = ["Choisissez un fichier."]
        valid = False
    else:
        head = file.stream.read(HEAD_BYTES)
        if kind in KINDS:
            try:
                runner.check_file_head(kind, head)
            except DomainError as exc:
                form.fichier.errors = [exc.message]
                valid = False
    if not valid:
        return _page(form, 422)
    limit = runner.max_import_bytes()

    def chunks():
        size = len(head)
        yield head
        while data := file.stream.read(CHUNK_SIZE):
            size += len(data)
            if size > limit:
                raise _TooLarge
            yield data

    try:
        stored = runner.store_import_file(db, file.filename, chunks())
    except _TooLarge:
        db.rollback()
        form.fichier.errors = [runner.too_large_message()]
        return _page(form, 413)
    run = runner.create_run(
        db, kind=kind, file_id=stored.id, dry_run=mode == "essai", actor_id=current_user.person_id
    )
    runner.enqueue_run(db, run)
    db.commit()
    return redirect(url_for("imports.show", run_id=run.id), 303)


@bp.errorhandler(RequestEntityTooLarge)
def too_large(_exc):
    """A file over the cap is refused before it is read (Werkzeug reads the request's
    length only); the administrator sees it next to the file field."""
    role = load_active_role(get_db())
    starting = request.endpoint == "imports.start"
    if current_user.is_authenticated and can(role, "import.run") and starting:
        form = ImportForm(formdata=None)
        form.fichier.errors = [runner.too_large_message()]
        return _page(form, 413)
    title, message = ERROR_PAGES[413]
    message = runner.too_large_message() if starting else upload_too_large_message()
    return (
        render_template(
            "errors/error.html",
            code=413,
            title=title,
            message=Markup.escape(message),
        ),
        413,
    )


def _run(run_id: int) -> ImportRun:
    db = get_db()
    run = db.get(ImportRun, run_id)
    if run is None:
        abort(404)
    if run.status in (runner.WAITING, runner.RUNNING):
        alive, meta = runner.run_state(db, run)
        if runner.settle_stopped(db, run, alive):
            db.commit()
        else:
            # SQLite: the import's transaction keeps the row; the job's meta runs ahead
            run.done = max(run.done, meta.get("done", 0))
            run.total = max(run.total, meta.get("total", 0))
    return run


def _context(run: ImportRun) -> dict:
    db = get_db()
    finished = run.status in (runner.FINISHED, runner.FAILED)
    real = None
    if run.dry_run and run.status == runner.FINISHED:
        real = db.exec(
            runner.runs_statement().where(
                ImportRun.file_id == run.file_id, ImportRun.dry_run.is_(False)
            )
        ).first()
    file = db.get(StoredFile, run.file_id)
    return {
        "run": run,
        "finished": finished,
        "file": file,
        "real": real,
        "refusals": runner.refused_lines(db, run) if finished else [],
        "shown_max": runner.SHOWN_REFUSALS,
        "labels": runner.STATUS_LABELS,
        "kind_label": runner.kind_label,
        "action_form": ActionForm(formdata=None),
        "command_grace_hours": runner.command_grace_hours(db),
    }


@bp.get("/<int:run_id>")
@login_required
@require("import.run")
def show(run_id: int):
    return render_template("imports/run.html", **_context(_run(run_id)))


@bp.get("/<int:run_id>/progression")
@login_required
@require("import.run")
def progress(run_id: int):
    """Polled every second by the run's page; 286 tells htmx to stop."""
    context = _context(_run(run_id))
    html = render_template("imports/_run.html", **context)
    return html, 286 if context["finished"] else 200


@bp.get("/<int:run_id>/refus.csv")
@login_required
@require("import.run")
def refusals(run_id: int):
    run = get_db().get(ImportRun, run_id)
    if run is None or run.report_file_id is None:
        abort(404)
    stored = get_db().get(StoredFile, run.report_file_id)
    return send_stored_file(
        stored.id,
        name=stored.name,
        content_type="text/csv; charset=utf-8",
        size=stored.size,
        no_store=True,
    )


@bp.post("/<int:run_id>/reel")
@login_required
@require("import.run")
def run_for_real(run_id: int):
    """ "Lancer l'import réel": the essai's stored file, for real."""
    db = get_db()
    dry = _run(run_id)
    try:
        run = runner.real_run_of(db, dry, current_user.person_id)
    except DomainError as exc:
        db.rollback()
        flash(exc.message, "error")
        return redirect(url_for("imports.show", run_id=run_id))
    db.commit()
    return redirect(url_for("imports.show", run_id=run.id), 303)


@bp.post("/<int:run_id>/relancer")
@login_required
@require("import.run")
def retry(run_id: int):
    """A failed run (stopped, or refused by a bug since fixed) started again from its file,
    once (a second click finds the run the first one started)."""
    db = get_db()
    failed = _run(run_id)
    if failed.status != runner.FAILED:
        abort(409)
    try:
        run = runner.retry_of(db, failed, current_user.person_id)
    except DomainError as exc:
        db.rollback()
        flash(exc.message, "error")
        return redirect(url_for("imports.show", run_id=run_id))
    db.commit()
    return redirect(url_for("imports.show", run_id=run.id), 303)
