"""Forms of "Personnes". Checks that need the database live in app/domain/people_admin.py."""

from wtforms import HiddenField, StringField
from wtforms.validators import DataRequired, Length

from app.blueprints.account.forms import DateRequired, FrenchDateField, person_name
from app.forms import Form


class IdentityForm(Form):
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
    # the identity the form showed: someone else's correction meanwhile is a conflict
    was_last_name = HiddenField()
    was_first_name = HiddenField()
    was_birth_date = HiddenField()


class ActionForm(Form):
    """A button alone (désactiver, réactiver): the CSRF token is all it sends."""


class MergeSearchForm(Form):
    """The duplicate's Forprev number (GET: it only shows the preview)."""

    class Meta:
        csrf = False

    doublon = StringField(
        "Numéro Forprev du doublon",
        validators=[DataRequired("Saisissez le numéro Forprev du doublon.")],
        description="La fiche à fusionner dans celle-ci, par exemple JKA37899.",
    )


class MergeForm(Form):
    """The confirmation: the duplicate seen in the preview; the role choices are read
    from the request (one radio group per role both hold)."""

    duplicate_number = HiddenField()
