"""The import form: which file, the file, essai or for real. The rules are in
app/domain/importing/; this only reads what was sent."""

from flask_wtf.file import FileField
from wtforms import RadioField, SelectField
from wtforms.widgets import ListWidget, RadioInput

from app.domain.importing.kinds import KINDS
from app.forms import Form

MODES = [
    ("essai", "Essai : voir ce qui serait créé, modifié ou refusé, sans rien enregistrer"),
    ("reel", "Import réel : enregistrer les lignes acceptées"),
]


class ImportForm(Form):
    kind = SelectField(
        "Type de fichier",
        choices=[("", "Choisissez…")] + [(k.code, k.label) for k in KINDS.values()],
        validate_choice=False,
    )
    fichier = FileField(
        "Fichier CSV",
        description="UTF-8, colonnes séparées par ; ou , avec une ligne d'en-tête ; "
        "dates au format jj/mm/aaaa.",
    )
    mode = RadioField(
        "Mode",
        choices=MODES,
        default="essai",
        validate_choice=False,
        widget=ListWidget(prefix_label=False),
        option_widget=RadioInput(),
    )


class ActionForm(Form):
    """A button's form: the CSRF token alone."""
