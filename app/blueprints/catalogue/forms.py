"""Forms of the catalogue screens. They only carry what was typed (and the CSRF token);
the rules, with their French messages, are in app/domain/catalogue.py, shared by the
inline checks and the saves. Each form also carries, in hidden `was_<field>` inputs,
the values it was shown (a save refuses a form shown other values than those stored)."""

from wtforms import BooleanField, SelectField, StringField, TextAreaField

from app.blueprints.account.forms import id_or_none
from app.forms import Form


class SchemeForm(Form):
    name = StringField("Nom du dispositif")
    active = BooleanField(
        "Ouvert aux demandes d'habilitation",
        description="Décoché, le dispositif n'est plus proposé dans les nouvelles demandes.",
    )
    technical_requirements = BooleanField(
        "Exigences techniques (onglet Technique, plateformes)",
        description="Décoché, l'onglet Technique disparaît des demandes et ses documents "
        "ne sont plus exigés.",
    )


class LevelRulesForm(Form):
    min_trainees = StringField("Nombre minimum de stagiaires par session")
    max_trainees = StringField("Nombre maximum de stagiaires par session")
    warn_above = StringField(
        "Seuil d'avertissement",
        description="Au-delà de ce nombre et jusqu'au maximum, la session est acceptée avec "
        "un avertissement. Vide : pas d'avertissement.",
    )
    initial_hours = StringField("Durée du stage initial (heures)")
    mac_hours = StringField("Durée du stage de mise à jour des compétences (heures)")
    programme_required = BooleanField(
        "Programmes et déroulés pédagogiques exigés dans les demandes d'habilitation"
    )
    inrs_only = BooleanField("Niveau réservé à l'INRS (pas de demande d'habilitation)")


class ModelForm(Form):
    name = StringField("Nom du certificat")
    validity_months = StringField(
        "Validité (mois)",
        description="De 1 à 120 mois, comptés depuis la date de fin de session. Les "
        "certificats déjà délivrés gardent leur date de fin de validité.",
    )
    active = BooleanField("Actif")
    issued_in_sessions = BooleanField(
        "Délivré en session",
        description="Décoché : qualification donnée hors session (par l'INRS) et "
        "enregistrée par l'administrateur sur le compte du formateur.",
    )


class RequirementForm(Form):
    label = StringField("Intitulé du document")
    help_text = TextAreaField("Aide affichée au demandeur")
    required = BooleanField("Obligatoire pour soumettre la demande")


class QualificationForm(Form):
    model_id = SelectField(
        "Certificat qui qualifie le formateur",
        coerce=id_or_none,
        validate_choice=False,
        description="Un certificat du même dispositif, de n'importe quel niveau.",
    )


class ActionForm(Form):
    """A button's form (retirer): the CSRF token alone."""
