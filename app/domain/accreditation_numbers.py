"""Accreditation numbers (REFERENCE §3): H{entity code}/{year}/{dispositif}-{level}/{type}/{seq}."""

from app.models.organizations import ORGANIZATION_KIND_LETTERS, OrganizationKind


def accreditation_number(
    *,
    entity_code: str,
    year: int,
    scheme_code: str,
    level: int,
    organization_kind: str,
    sequence: int,
) -> str:
    letter = ORGANIZATION_KIND_LETTERS[OrganizationKind(organization_kind)]
    return f"H{entity_code}/{year}/{scheme_code}-{level}/{letter}/{sequence:02d}"
