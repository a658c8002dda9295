"""Password hashing with argon2id."""

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
# verified against when the account has no password, so both paths cost the same
_DUMMY_HASH = _hasher.hash("pas-de-mot-de-passe")


# SPEC §3: at least 8 characters with a lower-case, an upper-case, a digit, a special one
PASSWORD_RULES = [
    ("length", "au moins 8 caractères", lambda p: len(p) >= 8),
    ("lower", "une lettre minuscule", lambda p: any(c.islower() for c in p)),
    ("upper", "une lettre majuscule", lambda p: any(c.isupper() for c in p)),
    ("digit", "un chiffre", lambda p: any(c.isdigit() for c in p)),
    (
        "special",
        "un caractère spécial (par exemple ! ? - _ @)",
        lambda p: any(not c.isalnum() and not c.isspace() for c in p),
    ),
]
MAX_PASSWORD_LENGTH = 200


def password_rules(password: str) -> list[tuple[str, str, bool]]:
    """Each rule as (key, French label, met?), for the live checklist."""
    password = password or ""
    return [(key, label, test(password)) for key, label, test in PASSWORD_RULES]


def password_problem(password: str) -> str | None:
    """The French message for a password that breaks the rule, else None."""
    password = password or ""
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"Le mot de passe ne doit pas dépasser {MAX_PASSWORD_LENGTH} caractères."
    missing = [label for _key, label, ok in password_rules(password) if not ok]
    if not missing:
        return None
    return "Le mot de passe doit contenir " + _join_fr(missing) + "."


def _join_fr(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " et " + items[-1]


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False
