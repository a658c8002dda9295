"""Files live behind one storage interface; the default keeps them in the database in
chunks, so every web and worker machine reads the same bytes."""

import hashlib
import os

import pytest
from sqlmodel import Session, func, select

from app.domain.storage import CHUNK_SIZE, get_storage
from app.models import StoredFile, StoredFileChunk


@pytest.mark.parametrize("size", [0, 10, CHUNK_SIZE, 2 * CHUNK_SIZE + 17])
def test_saved_bytes_come_back_identical(db, size):
    data = os.urandom(size)
    storage = get_storage()
    stored = storage.save(db, name="preuve.pdf", content_type="application/pdf", data=data)
    db.commit()
    assert stored.size == size
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert stored.complete
    chunks = db.exec(
        select(func.count())
        .select_from(StoredFileChunk)
        .where(StoredFileChunk.file_id == stored.id)
    ).one()
    assert chunks == max(1, -(-size // CHUNK_SIZE))
    assert storage.read(db, stored.id) == data


def test_another_connection_reads_the_file(app, db):
    """What one process wrote, another machine's session reads (the shared database)."""
    data = b"%PDF-1.4 " + os.urandom(CHUNK_SIZE)
    stored = get_storage().save(db, name="lot.zip", content_type="application/zip", data=data)
    db.commit()
    with Session(app.extensions["forprev_engine"]) as other:
        assert b"".join(get_storage().iter_chunks(other, stored.id)) == data


def test_streamed_writer_and_delete(db):
    storage = get_storage()
    with storage.writer(db, name="gros.bin", content_type="application/octet-stream") as out:
        for _ in range(5):
            out.write(b"x" * (CHUNK_SIZE // 2 + 1))
    db.commit()
    file_id = db.exec(select(StoredFile.id)).one()
    assert len(storage.read(db, file_id)) == 5 * (CHUNK_SIZE // 2 + 1)
    storage.delete(db, file_id)
    db.commit()
    assert db.get(StoredFile, file_id) is None
    assert db.exec(select(StoredFileChunk)).all() == []
