"""Reading an import file: a CSV in UTF-8 (with or without BOM), `;` or `,` (told by the
header line), fields quoted or not, and French dates.

The file is judged by its head before any line (not a CSV, not UTF-8, a column missing:
refused whole, nothing read further); then it is read as a stream of records, one line
after the other, never held whole in memory. A record that cannot be a line of the file
(a NUL byte, bytes that are no UTF-8, a wrong number of fields) is refused alone.
"""

import codecs
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
    first = body.split(b"\n", 1)[0].rstrip(b"\r")
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
    line = text.split("\n", 1)[0].rstrip("\r")
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


def read_records(chunks: Iterable[bytes], header: Header) -> Iterator[Record]:
    """The file's records after its header; blank lines skipped."""
    text = io.TextIOWrapper(
        io.BufferedReader(ChunkStream(chunks), buffer_size=256 * 1024),
        encoding="utf-8-sig",
        errors="surrogateescape",
        newline="",
    )
    reader = csv.reader(text, delimiter=header.delimiter)
    next(reader, None)  # the header, already judged
    end = reader.line_num
    width = len(header.keys)
    for row in reader:
        start, end = end + 1, reader.line_num
        if not any(value.strip() for value in row):
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
    """Line ends in the file: the progress bar's total before the lines are read."""
    count, last = 0, b""
    for chunk in chunks:
        count += chunk.count(b"\n")
        last = chunk[-1:] or last
    return count + (1 if last and last != b"\n" else 0)


def parse_date(value: str, label: str) -> date:
    """A French date dd/mm/yyyy, or LineRefused naming the column."""
    match = _DATE.fullmatch(value.strip())
    if not match:
        raise LineRefused(f"date illisible ({label}) : {value} — attendu jj/mm/aaaa")
    day, month, year = (int(g) for g in match.groups())
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
