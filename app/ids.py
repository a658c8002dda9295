"""Ids, versions and page numbers read from URLs and forms. Ids and versions are INTEGER
columns (32 bits on PostgreSQL): a number outside 1..LARGEST names nothing, and a
database refuses it with an error instead of finding no row. So every `<int:…>` of the
URL map stops there (the URL is not found), and forms and lists read numbers with
`parse_id` and `parse_page`."""

from werkzeug.routing import IntegerConverter

LARGEST = 2**31 - 1


def _digits(value) -> str | None:
    """`value` written in ASCII digits alone, leading zeros dropped; None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value) if value >= 0 else None
    if not isinstance(value, str):
        return None
    text = value.strip()
    # str.isdigit() takes other scripts' digits ("١") and superscripts: ASCII only
    if not text or not text.isascii() or not text.isdigit():
        return None
    return text.lstrip("0") or "0"


def parse_id(value) -> int | None:
    """`value` as an id or a version: a whole number from 1 to LARGEST, else None."""
    digits = _digits(value)
    if digits is None or len(digits) > len(str(LARGEST)):
        return None
    number = int(digits)
    return number if 1 <= number <= LARGEST else None


def parse_page(value) -> int:
    """`value` as a page number: 1 for what is no page number (missing, text, 0,
    negative), LARGEST for a number beyond it (past the end of any list all the same)."""
    digits = _digits(value)
    if digits is None or digits == "0":
        return 1
    if len(digits) > len(str(LARGEST)):
        return LARGEST
    return min(int(digits), LARGEST)


def _one_to(largest: int) -> str:
    """A regular expression of the whole numbers from 1 to `largest`, without leading
    zeros: the shorter numbers, then for each digit of `largest` the numbers that share
    the digits before it and have a smaller one there."""
    digits = str(largest)
    parts = [f"[1-9][0-9]{{0,{len(digits) - 2}}}"] if len(digits) > 1 else []
    for i, digit in enumerate(digits):
        lowest = 1 if i == 0 else 0
        if int(digit) > lowest:
            rest = len(digits) - i - 1
            parts.append(f"{digits[:i]}[{lowest}-{int(digit) - 1}][0-9]{{{rest}}}")
    parts.append(digits)
    return "(?:" + "|".join(parts) + ")"


class IdConverter(IntegerConverter):
    """`<int:…>` of every route: the ids from 1 to LARGEST, written as `url_for` writes
    them. Bounded in the pattern itself, not after it: a URL no rule's pattern matches is
    not found (404), while one whose id another rule's converter refused would answer 405
    when a POST rule shares its path (GET /sessions/<id>/stagiaires)."""

    regex = _one_to(LARGEST)


def init_app(app) -> None:
    """Before any route is added: rules bind their converters when they are added."""
    app.url_map.converters["int"] = IdConverter
