"""Forms of the accreditation request's tabs. The rules (what may be asked for, what a
platform or a line of equipment needs) live in app/domain/accreditation_flow.py; these
only read what was typed. The version a form names is a hidden `version` field of its
own, read by app/tabs.posted_version (several forms share a tab)."""

from flask_wtf.file import FileField
from wtforms import BooleanField, SelectField, StringField, TextAreaField

from app.blueprints.account.forms import id_or_none
from app.forms import Form


class InformationsForm(Form):
    requester_comment = TextAreaField(
        "Mon commentaire",
        description="Ce que la caisse instructrice doit savoir sur votre demande (facultatif, "
        "2 000 caractères au plus).",
    )


class PedagogiqueForm(Form):
    scheme_level_id = SelectField(
        "Dispositif et niveau",
        coerce=id_or_none,
        validate_choice=False,  # the rule says why a value may not be asked for
        description="La liste dépend des habilitations que l'entité détient ou demande déjà.",
    )


class TechniqueForm(Form):
    mobile_platform = BooleanField(
        "Plateforme pédagogique mobile",
        description="Cocher la case plateforme mobile si nécessaire. L'activation de cette "
        "case permet de déclarer des certifications dans d'autres lieux que ceux indiqués "
        "dans la liste des plateformes fixes.",
    )


class DocumentForm(Form):
    """One per document asked for (prefixed by its kind: several on one tab)."""

    fichier = FileField("Document")
    label = StringField("Intitulé du document")


class PlatformForm(Form):
    name = StringField("Nom de la plateforme")
    address = StringField("Adresse")
    postal_code = StringField("Code postal", description="5 chiffres, par exemple 67000.")
    city = StringField("Ville")


class EquipmentForm(Form):
    label = StringField("Matériel")
    quantity = StringField("Quantité", description="Un nombre entier de 1 à 9999.")
    description = StringField("Description (facultatif)")


def level_choices(form: PedagogiqueForm, choices, current) -> None:
    """The dispositif-levels the entity may ask for, plus the one already chosen."""
    options = [("", "— Choisissez un dispositif et un niveau —")]
    if current is not None and all(c.scheme_level_id != current[0] for c in choices):
        options.append((str(current[0]), current[1]))
    options += [(str(c.scheme_level_id), f"{c.label} — {c.scheme_name}") for c in choices]
    form.scheme_level_id.choices = options
