"""The form of "Demande de nouvelle entité". Field rules live in
app/domain/organization_rules.py; this only parses what was typed."""

from flask_wtf.file import FileField
from wtforms import SelectField, StringField
from wtforms.widgets import HiddenInput

from app.blueprints.account.forms import FrenchDateField
from app.forms import Form
from app.models.organizations import ORGANIZATION_KIND_LABELS


class EntityRequestForm(Form):
    """Both steps; each page shows and saves its own step's fields."""

    version = StringField(widget=HiddenInput())
    kind = SelectField(
        "Type d'entité",
        choices=[("", "Choisissez…"), *((k.value, v) for k, v in ORGANIZATION_KIND_LABELS.items())],
        validate_choice=False,
    )
    name = StringField("Raison sociale")
    regime = StringField(
        "Régime", description="Par exemple : régime général, régime agricole (MSA)."
    )
    siret = StringField("SIRET", description="14 chiffres, par exemple 732 829 320 00074.")
    activity_number = StringField(
        "Numéro de déclaration d'activité",
        description="11 chiffres. Pour un organisme de formation seulement.",
    )
    urssaf_file = FileField(
        "Attestation URSSAF",
        description="Un fichier PDF de moins de {max_mb} Mo.",
    )
    urssaf_issued_on = FrenchDateField(
        "Date de l'attestation URSSAF",
        description="Format jj/mm/aaaa. Elle doit dater de moins de 6 mois.",
    )
    address = StringField("Adresse")
    postal_code = StringField("Code postal", description="5 chiffres, par exemple 67000.")
    city = StringField("Ville")
    signatory_last_name = StringField("Nom")
    signatory_first_name = StringField("Prénom")
    signatory_function = StringField(
        "Fonction", description="Par exemple : gérant, directrice, président."
    )


class ConfirmForm(Form):
    """Abandonner la demande, confirmed: the version read."""

    version = StringField(widget=HiddenInput())
