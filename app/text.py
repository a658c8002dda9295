"""How names are compared: folded the same way in Python and in what the database stores
(`Organization.name_folded`), so a search answers the same on SQLite and PostgreSQL."""

import unicodedata


def fold(text: str | None) -> str:
    """Lower case without accents, hyphens or apostrophes: how names are compared."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    plain = plain.lower().replace("œ", "oe").replace("æ", "ae")
    for mark in "-'’":
        plain = plain.replace(mark, " ")
    return " ".join(plain.split())
