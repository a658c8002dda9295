"""Reading an import file: a CSV in UTF-8 (with or without BOM), `;` or `,` (told by the
header line), fields quoted or not, and French dates.

The file is judged by its head before any line (not a CSV, not UTF-8, a column missing:
refused whole, nothing read further); then it is read as a stream of records, one line
after the other, never held whole in memory. A record that cannot be a line of the file
(a NUL byte, bytes that are no UTF-8, a wrong number of fields, a value over the csv
module's limit, a quote never closed) is refused alone. Lines may end with \r\n, \n or \r.
"""

import codecs
import contextlib
import csv
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date

from app.domain.errors import DomainError
from app.text import fold

BOM = codecs.BOM_UTF8
# enough of the file's start to judge it (its header line and the first lines)
HEAD_BYTES = 64 * 1024
NOT_CSV = (
    "Ce fichier n'est pas un fichier CSV : enregistrez le tableau au format "
    "« CSV UTF-8 », une ligne d'en-tête puis une ligne par élément, séparées par ; ou ,."
)
SPREADSHEET = (
    "Ce fichier est un classeur de tableur, pas un fichier CSV : dans le tableur, "
    "« Enregistrer sous » puis choisissez « CSV UTF-8 »."
)
NOT_UTF8 = (
    "Ce fichier n'est pas encodé en UTF-8 (les accents seraient perdus) : dans le tableur, "
    "« Enregistrer sous » puis choisissez « CSV UTF-8 »."
)
EMPTY = "Ce fichier est vide."
_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")
# a line ends with \r\n (Windows), \n, or \r alone (old Mac spreadsheets): all are read
_LINE_END = re.compile(r"\r\n|\r|\n")
_LINE_END_BYTES = re.compile(rb"\r\n|\r|\n")
# the years a date may have, as everywhere in the app (FrenchDateField): any other is a typo
MIN_YEAR, MAX_YEAR = 1900, 2999
# what the report keeps of a value of a line that could not be read
SHOWN_CHARS = 200


class FileRefused(DomainError):
    """The whole file is refused before any line is read (the message names why)."""

    def __init__(self, message: str):
        super().__init__(message, field="fichier")


class LineRefused(Exception):
    """One line refused: its reason, in French, goes to the report."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def column_key(name: str) -> str:
    """A header's name as it is compared: "Raison sociale", "raison_sociale" and
    "RAISON-SOCIALE" are the same column."""
    return re.sub(r"[\s_]+", "_", fold(name).strip()).strip("_")


@dataclass
class Header:
    delimiter: str
    names: list[str]  # as written in the file
    keys: list[str]  # column_key of each


def _looks_binary(data: bytes) -> bool:
    """Control characters no text line holds (tab, line ends and form feed aside)."""
    return any(b < 32 and b not in (9, 10, 12, 13) for b in data)


def inspect_head(head: bytes, columns: tuple[str, ...]) -> Header:
    """The file's separator and header, or FileRefused: not a CSV (a PDF, a spreadsheet,
    a binary file), not UTF-8, or a column of `columns` missing."""
    if not head.strip(b" \t\r\n" + BOM):
        raise FileRefused(EMPTY)
    if head.startswith(b"%PDF"):
        raise FileRefused(
            "Ce fichier est un PDF, pas un fichier CSV : enregistrez le tableau au format "
            "« CSV UTF-8 »."
        )
    if head.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        raise FileRefused(SPREADSHEET)
    body = head[len(BOM) :] if head.startswith(BOM) else head
    first = _LINE_END_BYTES.split(body, maxsplit=1)[0]
    sample = body[:8192]
    nuls = sample.count(0)
    # a NUL byte or two is a damaged line (refused alone); many are a binary file
    if _looks_binary(first) or (nuls > 4 and nuls * 100 > len(sample)):
        raise FileRefused(NOT_CSV)
    try:
        # the head may end inside a character: only a complete one is judged
        text = codecs.getincrementaldecoder("utf-8")().decode(body, final=False)
    except UnicodeDecodeError:
        # text in another encoding (Windows-1252) has no control bytes; a binary file has
        raise FileRefused(NOT_CSV if _looks_binary(sample) else NOT_UTF8) from None
    line = _LINE_END.split(text, maxsplit=1)[0]
    delimiter = ";" if line.count(";") >= line.count(",") and ";" in line else ","
    names = next(csv.reader([line], delimiter=delimiter), [])
    keys = [column_key(n) for n in names]
    if not any(keys):
        raise FileRefused(NOT_CSV)
    doubled = sorted({k for k in keys if k and keys.count(k) > 1})
    if doubled:
        raise FileRefused("colonne en double : " + ", ".join(doubled))
    missing = [c for c in columns if c not in keys]
    if missing:
        label = "colonne manquante" if len(missing) == 1 else "colonnes manquantes"
        raise FileRefused(f"{label} : {', '.join(missing)}")
    return Header(delimiter=delimiter, names=names, keys=keys)


class ChunkStream(io.RawIOBase):
    """Bytes read from an iterable of chunks (a stored file, a file on disk)."""

    def __init__(self, chunks: Iterable[bytes]):
        self._chunks = iter(chunks)
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._pending:
            try:
                self._pending = next(self._chunks)
            except StopIteration:
                return 0
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


@dataclass
class Record:
    number: int  # the line of the file where it starts (the header is line 1)
    fields: list[str]  # as read
    values: dict[str, str] = field(default_factory=dict)  # column key → value, stripped
    problem: str | None = None  # why it cannot be a line of the file

    def shown(self) -> list[str]:
        """Its fields as the report and the screen show them (no NUL, no broken bytes)."""
        return [clean_text(v) for v in self.fields]


def clean_text(value: str) -> str:
    """What can be shown of a value: NUL removed, undecodable bytes as "�"."""
    return value.replace("\0", "").encode("utf-8", "surrogateescape").decode("utf-8", "replace")


class _Lines:
    """The text's lines as csv.reader takes them, numbered. The lines of the record being
    read are kept: when it proves to be a quote never closed, the lines after its first
    are given again, so that one bad line swallows none of the next."""

    def __init__(self, text: Iterable[str]):
        self._text = iter(text)
        self._again: list[str] = []  # lines to give again, the next one last
        self.number = 0  # the last line given (the header is line 1)
        self.taken: list[str] = []  # the lines of the record being read

    def __iter__(self) -> "_Lines":
        return self

    def __next__(self) -> str:
        line = self._again.pop() if self._again else next(self._text)
        self.number += 1
        self.taken.append(line)
        return line

    def next_record(self) -> None:
        self.taken = []

    def again_after_first(self) -> None:
        """The record's lines after its first are read again."""
        self._again.extend(reversed(self.taken[1:]))
        self.number -= len(self.taken) - 1
        self.taken = self.taken[:1]


def _raw_fields(line: str, delimiter: str) -> list[str]:
    """A line that could not be read as CSV, as the report shows it."""
    return [
        value if len(value) <= SHOWN_CHARS else value[:SHOWN_CHARS] + "…"
        for value in _LINE_END.sub("", line).split(delimiter)
    ]


def _unclosed_quote(start: int, end: int) -> str:
    return (
        "guillemet ouvert et jamais refermé : la valeur entre guillemets de cette ligne "
        f"englobait les lignes {start} à {end}. La ligne est refusée seule, les suivantes "
        'sont lues ; fermez le guillemet, ou doublez-le ("") dans une valeur.'
    )


def _too_long() -> str:
    limit = f"{csv.field_size_limit():,}".replace(",", " ")
    return f"valeur trop longue (plus de {limit} caractères) : la ligne n'est pas lue"


def _swallowed(row: list[str], delimiter: str, width: int) -> bool:
    """A value holding a line break then a whole line of the file: a quote never closed
    took the next lines in (a value written on two lines holds no such line)."""
    return any(
        delimiter in value
        and max(part.count(delimiter) for part in value.splitlines()) >= width - 1
        for value in row
        if "\n" in value or "\r" in value
    )


def read_records(chunks: Iterable[bytes], header: Header) -> Iterator[Record]:
    """The file's records after its header; blank lines skipped. Lines end with \r\n, \n
    or \r. A line that cannot be read as CSV (a value over the csv module's limit, a quote
    never closed) is a record refused alone, and the reading goes on at the next line."""
    text = io.TextIOWrapper(
        io.BufferedReader(ChunkStream(chunks), buffer_size=256 * 1024),
        encoding="utf-8-sig",
        errors="surrogateescape",
        newline="",
    )
    lines = _Lines(text)
    reader = csv.reader(lines, delimiter=header.delimiter)
    with contextlib.suppress(csv.Error):
        next(reader, None)  # the header, already judged (its first line)
    if len(lines.taken) > 1:  # a quote of the header never closed: the lines after it
        lines.again_after_first()
    width = len(header.keys)
    while True:
        lines.next_record()
        start = lines.number + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error:
            if not lines.taken:  # nothing was read: the end of the file
                return
            first = lines.taken[0]
            if len(lines.taken) > 1:
                problem = _unclosed_quote(start, lines.number)
                lines.again_after_first()
            else:
                problem = _too_long()
            yield Record(number=start, fields=_raw_fields(first, header.delimiter), problem=problem)
            continue
        if not any(value.strip() for value in row):
            continue
        if len(lines.taken) > 1 and (len(row) != width or _swallowed(row, header.delimiter, width)):
            problem = _unclosed_quote(start, lines.number)
            first = lines.taken[0]
            lines.again_after_first()
            yield Record(number=start, fields=_raw_fields(first, header.delimiter), problem=problem)
            continue
        record = Record(number=start, fields=row)
        joined = "".join(row)
        if "\0" in joined:
            record.problem = "caractère nul (octet 0) dans la ligne : elle est illisible"
        elif any("\udc80" <= c <= "\udcff" for c in joined):
            record.problem = "caractères illisibles : la ligne n'est pas en UTF-8"
        elif len(row) != width:
            record.problem = (
                f"la ligne a {len(row)} colonnes, l'en-tête {width} "
                f"(un « {header.delimiter} » dans une valeur doit être entre guillemets)"
            )
        else:
            record.values = {
                key: value.strip() for key, value in zip(header.keys, row, strict=True) if key
            }
        yield record


def count_lines(chunks: Iterable[bytes]) -> int:
    """Lines in the file (ended by \r\n, \n or \r): the progress bar's total before the
    lines are read."""
    count, last = 0, b""
    for chunk in chunks:
        if not chunk:
            continue
        count += chunk.count(b"\n") + chunk.count(b"\r") - chunk.count(b"\r\n")
        if last == b"\r" and chunk[:1] == b"\n":
            count -= 1  # a \r\n cut between two chunks
        last = chunk[-1:]
    return count + (1 if last and last not in (b"\n", b"\r") else 0)


def parse_date(value: str, label: str) -> date:
    """A French date dd/mm/yyyy, or LineRefused naming the column."""
    match = _DATE.fullmatch(value.strip())
    if not match:
        raise LineRefused(f"date illisible ({label}) : {value} — attendu jj/mm/aaaa")
    day, month, year = (int(g) for g in match.groups())
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise LineRefused(
            f"date hors des années admises ({label}) : {value} — entre {MIN_YEAR} et {MAX_YEAR}"
        )
    try:
        return date(year, month, day)
    except ValueError:
        raise LineRefused(f"date impossible : {value}") from None


def optional_date(value: str, label: str) -> date | None:
    return parse_date(value, label) if value.strip() else None


def required(values: dict[str, str], column: str) -> str:
    value = values.get(column, "")
    if not value:
        raise LineRefused(f"valeur manquante : {column}")
    return value


def report_row(record: Record, reason: str) -> list[str]:
    return [*record.shown(), str(record.number), reason]
