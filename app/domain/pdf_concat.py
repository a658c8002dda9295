"""Join PDFs into one, streaming: each source's objects are renumbered and written out
at once, and only their byte offsets are kept, so joining 500 certificates takes the
memory of one. (pypdf's PdfWriter would hold every page until the end.)"""

import io

from pypdf import PdfReader
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, NameObject

CATALOG_ID, PAGES_ID = 1, 2


class PdfConcatenator:
    def __init__(self, out):
        self.out = out
        self.position = 0
        self.offsets: dict[int, int] = {}
        self.kids: list[int] = []
        self.next_id = 3
        self._write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")

    def _write(self, data: bytes) -> None:
        self.out.write(data)
        self.position += len(data)

    def add(self, pdf: bytes) -> None:
        """Append every page of `pdf`."""
        reader = PdfReader(io.BytesIO(pdf))
        mapping: dict[int, int] = {}
        pending: list[IndirectObject] = []

        def renumber(reference: IndirectObject) -> IndirectObject:
            if reference.pdf is None:  # already ours: a direct object shared by two parents
                return reference
            if reference.idnum not in mapping:
                mapping[reference.idnum] = self.next_id
                self.next_id += 1
                pending.append(reference)
            return IndirectObject(mapping[reference.idnum], 0, None)  # type: ignore[arg-type]

        def convert(value):
            if isinstance(value, IndirectObject):
                return renumber(value)
            # raw access: pypdf's item access would resolve the references we renumber
            if isinstance(value, DictionaryObject):  # streams are dictionaries too
                for key in list(value.keys()):
                    dict.__setitem__(value, key, convert(value.raw_get(key)))
                return value
            if isinstance(value, ArrayObject):
                for index in range(len(value)):
                    list.__setitem__(value, index, convert(list.__getitem__(value, index)))
                return value
            return value

        for page in reader.pages:
            self.kids.append(renumber(page.indirect_reference).idnum)
        while pending:
            reference = pending.pop()
            obj = reference.get_object()
            if isinstance(obj, DictionaryObject) and obj.get("/Type") == "/Page":
                obj[NameObject("/Parent")] = IndirectObject(PAGES_ID, 0, None)  # type: ignore[arg-type]
            obj = convert(obj)
            self._object(mapping[reference.idnum], obj)

    def _object(self, number: int, obj) -> None:
        self.offsets[number] = self.position
        buffer = io.BytesIO()
        buffer.write(f"{number} 0 obj\n".encode())
        obj.write_to_stream(buffer)
        buffer.write(b"\nendobj\n")
        self._write(buffer.getvalue())

    def close(self) -> None:
        kids = " ".join(f"{kid} 0 R" for kid in self.kids)
        self.offsets[PAGES_ID] = self.position
        self._write(
            f"{PAGES_ID} 0 obj\n<< /Type /Pages /Kids [ {kids} ] /Count {len(self.kids)} >>\n"
            "endobj\n".encode()
        )
        self.offsets[CATALOG_ID] = self.position
        self._write(
            f"{CATALOG_ID} 0 obj\n<< /Type /Catalog /Pages {PAGES_ID} 0 R >>\nendobj\n".encode()
        )
        size = self.next_id
        xref_at = self.position
        lines = [f"xref\n0 {size}\n", "0000000000 65535 f \n"]
        lines += [f"{self.offsets.get(n, 0):010d} 00000 n \n" for n in range(1, size)]
        lines.append(f"trailer\n<< /Size {size} /Root {CATALOG_ID} 0 R >>\n")
        lines.append(f"startxref\n{xref_at}\n%%EOF\n")
        self._write("".join(lines).encode())
