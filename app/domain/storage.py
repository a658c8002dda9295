"""One storage interface for every file (uploads, PDFs, bundles).

The default keeps files in the database, in chunks, so every web and worker machine sees
the same files and large ones are streamed in and out, never held whole in memory.
Another backend (object storage) implements the same four methods.
"""

import hashlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Protocol

from sqlalchemy import delete, func
from sqlmodel import Session, select

from app.clock import utcnow
from app.models import StoredFile, StoredFileChunk

CHUNK_SIZE = 256 * 1024


class Storage(Protocol):
    def save(
        self, db: Session, *, name: str, content_type: str, data: bytes | Iterable[bytes]
    ) -> StoredFile: ...

    def writer(self, db: Session, *, name: str, content_type: str): ...

    def iter_chunks(self, db: Session, file_id: int) -> Iterator[bytes]: ...

    def delete(self, db: Session, file_id: int) -> None: ...


class _ChunkWriter:
    def __init__(self, db: Session, stored: StoredFile):
        self.db, self.file = db, stored
        self._buffer = bytearray()
        self._seq = 0
        self._digest = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self._buffer += data
        self._digest.update(data)
        self.file.size += len(data)
        while len(self._buffer) >= CHUNK_SIZE:
            self._flush_chunk(bytes(self._buffer[:CHUNK_SIZE]))
            del self._buffer[:CHUNK_SIZE]
        return len(data)

    def _flush_chunk(self, data: bytes) -> None:
        chunk = StoredFileChunk(file_id=self.file.id, seq=self._seq, data=data)
        self.db.add(chunk)
        self.db.flush()
        # forget the chunk object so a long stream does not pile its bytes up in the session
        self.db.expunge(chunk)
        self._seq += 1

    def flush(self) -> None:
        """Bytes reach the database by whole chunks; nothing to do before close."""

    def close(self) -> None:
        if self._buffer or self._seq == 0:
            self._flush_chunk(bytes(self._buffer))
            self._buffer.clear()
        self.file.sha256 = self._digest.hexdigest()
        self.file.complete = True
        self.db.add(self.file)
        self.db.flush()


class DatabaseStorage:
    @contextmanager
    def writer(self, db: Session, *, name: str, content_type: str):
        """Stream bytes into a new file: `with storage.writer(...) as w: w.write(b"…")`.
        The file is complete once the block ends; the caller's transaction commits it."""
        stored = StoredFile(name=name, content_type=content_type, created_at=utcnow())
        db.add(stored)
        db.flush()
        writer = _ChunkWriter(db, stored)
        yield writer
        writer.close()

    def save(
        self, db: Session, *, name: str, content_type: str, data: bytes | Iterable[bytes]
    ) -> StoredFile:
        with self.writer(db, name=name, content_type=content_type) as w:
            if isinstance(data, bytes | bytearray):
                w.write(bytes(data))
            else:
                for part in data:
                    w.write(part)
        return w.file

    def iter_chunks(self, db: Session, file_id: int) -> Iterator[bytes]:
        count = db.exec(
            select(func.count())
            .select_from(StoredFileChunk)
            .where(StoredFileChunk.file_id == file_id)
        ).one()
        for seq in range(count):
            yield db.exec(
                select(StoredFileChunk.data).where(
                    StoredFileChunk.file_id == file_id, StoredFileChunk.seq == seq
                )
            ).one()

    def read(self, db: Session, file_id: int) -> bytes:
        return b"".join(self.iter_chunks(db, file_id))

    def delete(self, db: Session, file_id: int) -> None:
        db.exec(delete(StoredFileChunk).where(StoredFileChunk.file_id == file_id))
        db.exec(delete(StoredFile).where(StoredFile.id == file_id))


_BACKENDS = {"database": DatabaseStorage}


def get_storage(name: str = "database") -> DatabaseStorage:
    try:
        return _BACKENDS[name]()
    except KeyError:
        raise RuntimeError(f"FORPREV_STORAGE inconnu : {name}") from None
