"""The base of every form of the app: what any form refuses, whatever the screen.

A one-line field (a name, an e-mail address, a title…) never holds a line break when a
browser sends it: browsers remove them from such fields. One that does comes from a forged
request, and once stored it breaks what is built from it later (an e-mail header refuses
it), so it is refused here, next to its field, for every form at once.
"""

from flask_wtf import FlaskForm
from wtforms.widgets import CheckboxInput, FileInput, Input, RadioInput, SubmitInput

ONE_LINE = "Ce champ tient sur une seule ligne : retirez les retours à la ligne."


def is_one_line(field) -> bool:
    """A field typed on one line: an <input> other than a box, a radio, a file or a button
    (a <textarea> or a <select> is not an <input>)."""
    widget = field.widget
    return isinstance(widget, Input) and not isinstance(
        widget, CheckboxInput | RadioInput | FileInput | SubmitInput
    )


def breaks_line(value) -> bool:
    """Any line boundary Python knows (\\r, \\n, \\v, \\f, \\x1c–\\x1e, \\x85, \\u2028,
    \\u2029): the ones an e-mail header refuses."""
    return isinstance(value, str) and "".join(value.splitlines()) != value


class Form(FlaskForm):
    """Every form of the app derives from this one (tests/test_forms.py checks it)."""

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        for field in self:
            if is_one_line(field) and any(breaks_line(v) for v in field.raw_data or ()):
                field.errors.insert(0, ONE_LINE)  # first: the message a field shows
                valid = False
        return valid
