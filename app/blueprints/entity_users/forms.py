"""Forms of "Utilisateurs": who to add, and the role they hold in the entity. Whether a
role or an accreditation may be chosen is decided by app/domain/entity_users.py."""

from wtforms import SelectField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget

from app.blueprints.account.forms import (
    DateRequired,
    FrenchDateField,
    email_field,
    id_or_none,
    person_name,
)
from app.forms import Form
from app.models.people import ROLE_LABELS, Role

ROLE_CHOICES = [
    ("", "— Choisissez un rôle —"),
    (Role.GESTIONNAIRE.value, ROLE_LABELS[Role.GESTIONNAIRE]),
    (Role.DELEGATAIRE.value, ROLE_LABELS[Role.DELEGATAIRE]),
]


class RoleForm(Form):
    role = SelectField(
        "Rôle",
        choices=ROLE_CHOICES,
        validate_choice=False,
        description="Un gestionnaire gère toute l'entité ; un délégataire déclare les "
        "sessions des habilitations qui lui sont déléguées.",
    )
    accreditation_ids = SelectMultipleField(
        "Habilitations déléguées",
        coerce=id_or_none,
        validate_choice=False,
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        description="Pour un délégataire : cochez au moins une habilitation active.",
    )


class AddMemberForm(RoleForm):
    last_name = StringField(
        "Nom",
        validators=[
            DataRequired("Saisissez le nom."),
            Length(max=100, message="Le nom ne doit pas dépasser 100 caractères."),
            person_name("nom"),
        ],
    )
    first_name = StringField(
        "Prénom",
        validators=[
            DataRequired("Saisissez le prénom."),
            Length(max=100, message="Le prénom ne doit pas dépasser 100 caractères."),
            person_name("prénom"),
        ],
    )
    birth_date = FrenchDateField(
        "Date de naissance",
        validators=[DateRequired("Saisissez la date de naissance.")],
        description="Format jj/mm/aaaa, par exemple 14/07/1990",
    )
    email = email_field(
        description="Une personne déjà inscrite sur Forprev garde son compte ; une nouvelle "
        "reçoit à cette adresse le lien pour choisir son mot de passe."
    )


class RemoveForm(Form):
    pass
