"""Forms of the instruction screens: a decision names the version it read."""

from wtforms import TextAreaField

from app.blueprints.cert_sessions.forms import VersionedForm


class DecisionForm(VersionedForm):
    """Valider / Accepter: the version alone."""


class CommentedDecisionForm(VersionedForm):
    """Renvoyer au demandeur / Refuser: the comment says why."""

    comment = TextAreaField(
        "Commentaire pour le demandeur",
        description="Dites ce qu'il faut corriger ; le demandeur le lira à côté de sa demande.",
    )
