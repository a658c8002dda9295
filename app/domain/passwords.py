"""The password rule (what a new password must contain, and not one of the most common)
and password hashing with argon2id."""

import itertools
from functools import lru_cache

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


COMMON_PASSWORD = (
    "Ce mot de passe fait partie des plus courants, même avec des majuscules, des chiffres "
    "ou des symboles ajoutés : choisissez-en un autre, moins prévisible."
)
# what people add around a common password to meet the rule ("Azerty123!", "P@ssw0rd2024")
MAX_DECORATION = 5
# letters written as digits or symbols, as zxcvbn reads them ("P@ssw0rd" is "password")
_L33T = {
    "4": "a",
    "@": "a",
    "8": "b",
    "(": "c",
    "{": "c",
    "[": "c",
    "<": "c",
    "3": "e",
    "6": "g",
    "9": "g",
    "1": "il",
    "!": "i",
    "|": "il",
    "7": "lt",
    "0": "o",
    "$": "s",
    "5": "s",
    "+": "t",
    "%": "x",
}


@lru_cache(maxsize=1)
def _common_passwords() -> frozenset[str]:
    """The 30 000 most common passwords of leaked lists, as zxcvbn ranks them (lower case;
    loaded on first use)."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def is_common(password: str) -> bool:
    """Is the password one of the most common, whatever its case, letters written as
    digits or symbols, or up to MAX_DECORATION digits and symbols added before or after?"""
    password = (password or "").lower()
    if len(password) > MAX_PASSWORD_LENGTH:
        return False
    common = _common_passwords()
    for core in _cores(password):
        if core in common or core[::-1] in common:
            return True
        if any(variant in common for variant in _unl33t(core)):
            return True
    return False


def _cores(password: str):
    """The password without 0 to MAX_DECORATION of its non-letters at either end."""
    lead = next((i for i, c in enumerate(password) if c.isalpha()), len(password))
    trail = next((i for i, c in enumerate(reversed(password)) if c.isalpha()), len(password))
    for start in range(min(lead, MAX_DECORATION) + 1):
        for end in range(min(trail, MAX_DECORATION - start) + 1):
            core = password[start : len(password) - end]
            if len(core) >= 4:
                yield core


def _unl33t(core: str):
    """The core with its digits and symbols read as letters (each one the same way)."""
    chars = sorted({c for c in core if c in _L33T})
    if not chars:
        return
    for letters in itertools.product(*(_L33T[c] for c in chars)):
        yield core.translate(str.maketrans(dict(zip(chars, letters, strict=True))))


def password_rules(password: str) -> list[tuple[str, str, bool]]:
    """Each rule as (key, French label, met?), for the live checklist; a common password
    adds a line saying so."""
    password = password or ""
    rules = [(key, label, test(password)) for key, label, test in PASSWORD_RULES]
    if is_common(password):
        rules.append(("common", COMMON_PASSWORD, False))
    return rules


def password_problem(password: str) -> str | None:
    """The French message for a password that breaks the rule, else None."""
    password = password or ""
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"Le mot de passe ne doit pas dépasser {MAX_PASSWORD_LENGTH} caractères."
    missing = [label for _key, label, test in PASSWORD_RULES if not test(password)]
    if missing:
        return "Le mot de passe doit contenir " + _join_fr(missing) + "."
    if is_common(password):
        return COMMON_PASSWORD
    return None


def _join_fr(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " et " + items[-1]


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False
