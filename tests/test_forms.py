"""One rule for every form: a line break in a one-line field is refused next to the field
(a title or an address with CR/LF went into an e-mail header, whose building failed)."""

import importlib
import re
from pathlib import Path

import pytest
from flask_wtf import FlaskForm
from sqlmodel import select
from werkzeug.datastructures import MultiDict

import app as app_package
from app.forms import ONE_LINE, Form
from app.models import TargetedMessage
from app.models.people import Role
from tests import factories
from tests.conftest import csrf_token

BREAKS = ["\r\n", "\n", "\r"]
NOT_ONE_LINE = {"checkbox", "radio", "submit", "file", "button", "image", "reset"}


def _form_classes() -> list[type]:
    """Every form class written in the app: each module under app/ imported, then every
    FlaskForm subclass defined there (inline forms in views included)."""
    root = Path(app_package.__file__).parent
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        importlib.import_module(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    found, todo = [], [FlaskForm]
    while todo:
        for cls in todo.pop().__subclasses__():
            todo.append(cls)
            if cls.__module__.startswith("app.") and cls is not Form:
                found.append(cls)
    return sorted(set(found), key=lambda c: f"{c.__module__}.{c.__qualname__}")


FORM_CLASSES = _form_classes()


def _one_line_names(form) -> set[str]:
    """Fields the browser shows as a one-line <input> (read from the HTML each field
    draws, not from the rule under test)."""
    names = set()
    for field in form:
        if getattr(field, "choices", False) is None:
            field.choices = []
        html = str(field())
        kind = re.search(r'type="([^"]+)"', html)
        if html.startswith("<input") and (kind is None or kind.group(1) not in NOT_ONE_LINE):
            names.add(field.short_name)
    return names


def _filled(form_class, app, text: str):
    """The form posted with `text` in every field (no CSRF: proved elsewhere)."""
    with app.test_request_context():
        names = [f.short_name for f in form_class(meta={"csrf": False})]
        form = form_class(formdata=MultiDict({n: text for n in names}), meta={"csrf": False})
        form.validate()
        return form, _one_line_names(form)


def test_the_app_has_forms_and_each_derives_from_the_one_base():
    assert len(FORM_CLASSES) >= 10
    wrong = [c.__qualname__ for c in FORM_CLASSES if not issubclass(c, Form)]
    assert not wrong, f"formulaires qui ne dérivent pas de app.forms.Form : {wrong}"


@pytest.mark.parametrize("form_class", FORM_CLASSES, ids=lambda c: c.__qualname__)
def test_every_one_line_field_refuses_a_line_break(app, form_class):
    for line_break in BREAKS:
        form, one_line = _filled(form_class, app, f"Ligne un{line_break}ligne deux")
        for field in form:
            if field.short_name in one_line:
                assert field.errors and field.errors[0] == ONE_LINE, (
                    f"{form_class.__qualname__}.{field.short_name} accepte {line_break!r}"
                )
            else:  # a text area keeps its lines; lists and boxes are not typed
                assert ONE_LINE not in field.errors, field.short_name
        assert not form.validate() or not one_line

    # the same text on one line is not refused for that reason
    form, _ = _filled(form_class, app, "Ligne un ligne deux")
    assert all(ONE_LINE not in field.errors for field in form)


def test_the_forms_have_the_one_line_fields_a_person_types(app):
    """The proof above covers the fields that matter (titles, names, e-mail addresses)."""
    seen = set()
    for form_class in FORM_CLASSES:
        _, one_line = _filled(form_class, app, "x")
        seen |= {f"{form_class.__name__}.{name}" for name in one_line}
    assert {
        "MessageForm.title",
        "TraineeForm.email",
        "TraineeForm.last_name",
        "SignupForm.email",
        "SessionTabForm.location",
        "LoginForm.identifier",
    } <= seen


def test_a_message_title_with_a_line_break_is_refused_next_to_it(app, db, login_as):
    admin = factories.person(db, email="admin@exemple.fr")
    factories.grant(db, admin, Role.ADMINISTRATEUR)
    db.commit()
    client = login_as(admin)
    response = client.post(
        "/messages/nouveau",
        data={
            "roles": ["formateur"],
            "title": "Rappel\r\nBcc: tout-le-monde@exemple.fr",
            "body": "Deux lignes\r\nici, c'est permis.",
            "display_from": "",
            "csrf_token": csrf_token(client, "/messages/nouveau"),
        },
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert re.search(r'id="title-erreur" role="alert">Ce champ tient sur une seule ligne', html)
    assert 'id="body-erreur"' not in html
    assert db.exec(select(TargetedMessage)).all() == []
