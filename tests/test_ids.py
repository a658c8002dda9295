"""Ids, versions and page numbers: one reading of them for URLs, forms and lists."""

import re

import pytest
from werkzeug.exceptions import NotFound

from app.ids import LARGEST, _one_to, parse_id, parse_page


@pytest.mark.parametrize(
    ("value", "number"),
    [
        ("1", 1),
        (" 42 ", 42),
        ("0007", 7),
        (str(LARGEST), LARGEST),
        (12, 12),
        (str(LARGEST + 1), None),  # beyond a 32-bit INTEGER column
        (str(2**63), None),  # beyond any database integer
        ("99999999999999999999", None),
        ("9" * 5000, None),  # beyond what int() reads from text
        ("0", None),
        ("-1", None),
        (-1, None),
        ("+1", None),
        ("1_000", None),  # int() reads it as 1000
        ("1.0", None),
        ("1e3", None),
        ("١٢", None),  # Arabic-Indic digits: int() reads them as 12
        ("²", None),
        ("", None),
        (None, None),
        (True, None),
    ],
)
def test_an_id_is_a_whole_number_an_integer_column_holds(value, number):
    assert parse_id(value) == number


@pytest.mark.parametrize(
    ("value", "page"),
    [
        ("3", 3),
        (None, 1),
        ("", 1),
        ("abc", 1),
        ("0", 1),
        ("-4", 1),
        ("2.5", 1),
        (str(LARGEST), LARGEST),
        ("400000000000000000", LARGEST),  # past the end of any list: the paginator's
        ("9" * 5000, LARGEST),  # last page answers it
    ],
)
def test_a_page_number_is_bounded(value, page):
    assert parse_page(value) == page


@pytest.mark.parametrize(
    "segment",
    [str(LARGEST + 1), str(2**63), "99999999999999999999", "0", "-1", "١", "1_0", "9" * 5000],
)
def test_every_int_segment_of_the_url_map_stops_at_the_column_size(app, segment):
    """The app's `int` converter: a URL whose id no column can hold is not found before
    any view or database sees it; the largest id still matches."""
    urls = app.url_map.bind("forprev.test")
    assert urls.match(f"/sessions/{LARGEST}/session", method="POST") == (
        "cert_sessions.save_session",
        {"cert_session_id": LARGEST},
    )
    assert urls.match(f"/sessions/1/stagiaires/{LARGEST}/supprimer", method="POST")[1] == {
        "cert_session_id": 1,
        "trainee_id": LARGEST,
    }
    for method, path in (
        ("POST", f"/sessions/{segment}/session"),
        ("POST", f"/sessions/1/stagiaires/{segment}/supprimer"),
        ("POST", f"/alertes/{segment}/lue"),
        ("GET", f"/mes-certificats/{segment}.pdf"),
        # a tab's URL that is also a POST route's: not found, not « method not allowed »
        ("GET", f"/sessions/{segment}/stagiaires"),
    ):
        with pytest.raises(NotFound):  # MethodNotAllowed is no NotFound
            urls.match(path, method=method)


@pytest.mark.parametrize("largest", [9, 10, 199, 5307, LARGEST])
def test_the_id_pattern_matches_exactly_one_to_the_largest(largest):
    pattern = re.compile(_one_to(largest))
    numbers = [*range(2500), largest - 1, largest, largest + 1, 10 ** len(str(largest))]
    wrong = [n for n in numbers if bool(pattern.fullmatch(str(n))) != (1 <= n <= largest)]
    assert not wrong
    assert not pattern.fullmatch(f"0{largest}")
