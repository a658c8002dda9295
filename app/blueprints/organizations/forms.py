"""Forms of "Mon entité". The rules are in app/domain/organization_rules.py and
app/domain/organization_changes.py; these only read what was typed."""

from wtforms import BooleanField, FileField, IntegerField, SelectField, StringField
from wtforms.validators import InputRequired
from wtforms.widgets import HiddenInput

from app.blueprints.account.forms import FrenchDateField
from app.forms import Form
from app.models.organizations import ORGANIZATION_KIND_LABELS


class VersionedForm(Form):
    version = IntegerField(widget=HiddenInput(), validators=[InputRequired()])


class AdminChangeForm(VersionedForm):
    kind = SelectField(
        "Type d'entité",
        choices=[(k.value, label) for k, label in ORGANIZATION_KIND_LABELS.items()],
        validate_choice=False,
    )
    name = StringField("Raison sociale")
    regime = StringField("Régime", description="Par exemple : Régime général, Hors régime.")
    siret = StringField("SIRET", description="14 chiffres.")
    activity_number = StringField(
        "Numéro de déclaration d'activité",
        description="11 chiffres, pour un organisme de formation.",
    )
    urssaf_file = FileField(
        "Nouvelle attestation URSSAF (PDF)",
        description="Seulement si elle change : un PDF de moins de 6 mois.",
    )
    urssaf_issued_on = FrenchDateField(
        "Date de l'attestation URSSAF", description="Format jj/mm/aaaa."
    )
    address = StringField("Adresse")
    postal_code = StringField("Code postal", description="5 chiffres, par exemple 67000.")
    city = StringField("Ville")


class SignatoryForm(VersionedForm):
    signatory_last_name = StringField("Nom")
    signatory_first_name = StringField("Prénom")
    signatory_function = StringField("Fonction", description="Par exemple : Directeur, Maire.")


class ListingForm(VersionedForm):
    public_listing = BooleanField("Figurer sur la liste des organismes de formation d'inrs.fr")
    public_email = StringField("Adresse e-mail de contact")
    public_phone = StringField("Téléphone", description="Au format +33 3 88 00 00 00.")
    public_website = StringField("Site web", description="Par exemple https://www.exemple.fr.")


class WithdrawForm(VersionedForm):
    pass
