"""Forms of an accreditation's page. They only read what was typed: the rules (period,
overlap, approval date…) live in app/domain/accreditation_admin.py. Each form also sends
the accreditation's version it was shown with (a hidden `version`, read by the view)."""

from wtforms import StringField, TextAreaField

from app.blueprints.account.forms import FrenchDateField
from app.forms import Form


class Needed:
    """Marks a field required (label and `required`); the message when it is empty comes
    from the rule in the domain, written once."""

    field_flags = {"required": True}

    def __call__(self, form, field):
        pass


NEEDED = [Needed()]


class SuspensionForm(Form):
    start_date = FrenchDateField("Début de la suspension", NEEDED, description="Format jj/mm/aaaa.")
    end_date = FrenchDateField(
        "Fin de la suspension",
        NEEDED,
        description="Format jj/mm/aaaa. Une session qui se termine entre ces deux dates, "
        "incluses, ne peut pas être déclarée.",
    )
    reason = TextAreaField(
        "Motif", NEEDED, description="500 caractères au plus ; il est communiqué aux gestionnaires."
    )


class PlatformForm(Form):
    name = StringField("Nom de la plateforme", NEEDED)
    address = StringField("Adresse", NEEDED)
    postal_code = StringField("Code postal", NEEDED, description="5 chiffres, par exemple 67000.")
    city = StringField("Ville", NEEDED)


class ApprovalForm(Form):
    approved_on = FrenchDateField(
        "Date d'approbation CNH", NEEDED, description="Format jj/mm/aaaa, au plus tard aujourd'hui."
    )
