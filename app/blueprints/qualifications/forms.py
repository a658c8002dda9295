"""The form of a qualification recorded by hand. What may be chosen and the dates' rules
are decided by app/domain/qualifications.py."""

from wtforms import FileField, SelectField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from app.blueprints.account.forms import DateRequired, FrenchDateField, id_or_none
from app.domain.qualifications import MODEL_REQUIRED, START_REQUIRED
from app.forms import Form


class QualificationForm(Form):
    certificate_model_id = SelectField(
        "Certificat obtenu",
        coerce=id_or_none,
        validate_choice=False,
        validators=[DataRequired(MODEL_REQUIRED)],
        description="Les certificats du catalogue, par dispositif et niveau ; les "
        "qualifications « formateur de formateurs » que l'INRS délivre hors session y sont.",
    )
    valid_from = FrenchDateField(
        "Début de validité",
        validators=[DateRequired(START_REQUIRED)],
        description="Format jj/mm/aaaa, par exemple 14/07/2024",
    )
    valid_until = FrenchDateField(
        "Fin de validité",
        validators=[Optional()],
        description="Laissée vide : le début plus la durée de validité du certificat.",
    )
    document = FileField(
        "Document (facultatif)",
        description="Le certificat en PDF, s'il existe. Sans document, la qualification "
        "compte tout autant pour la vérification des formateurs.",
    )
    note = TextAreaField(
        "Note (facultative)",
        validators=[Length(max=500, message="La note ne doit pas dépasser 500 caractères.")],
        description="Par exemple : session INRS du 12 au 16 mai, ou l'origine du certificat.",
    )


class WithdrawForm(Form):
    pass
