from __future__ import annotations

from datetime import datetime

import pytest

from dealcast.crm.store import Store
from dealcast.rag.documents import build_documents, chunk_text
from tests.rag.org import A1, BACKDATED_TASK, C1, NEEDLE_EMAIL, O1, U1, sfid


def _epoch(value: datetime) -> int:
    return int((value - datetime(1970, 1, 1)).total_seconds())


def test_chunks_respect_size_and_overlap() -> None:
    assert chunk_text("Short note.\n\nSecond line.") == ["Short note.\n\nSecond line."]
    words = [f"w{i}" for i in range(400)]
    chunks = chunk_text(" ".join(words), words=100, overlap=20)
    assert [len(c.split()) for c in chunks] == [100, 100, 100, 100, 80]
    assert chunks[1].split()[0] == "w80"  # 20 words of overlap
    paras = "\n\n".join(f"para {i} " + "x " * 50 for i in range(4))
    assert len(chunk_text(paras, words=120, overlap=10)) == 2  # two paragraphs per chunk
    with pytest.raises(ValueError, match="overlap"):
        chunk_text("x", words=10, overlap=10)


def test_documents_carry_the_metadata_search_needs(store: Store) -> None:
    docs = {d.doc_id: d for d in build_documents(store)}
    needle = docs[f"{NEEDLE_EMAIL}#0"].metadata
    assert needle["deal_id"] == O1 and needle["account_id"] == A1 and needle["owner_id"] == U1
    assert needle["kind"] == "email" and needle["direction"] == "inbound"
    assert needle["contact_id"] == C1 and needle["contact_name"] == "Dana Diaz"
    assert needle["contact_title"] == "CFO" and needle["contact_role"] == "Economic Buyer"
    assert needle["activity_id"] == NEEDLE_EMAIL

    late = docs[f"{BACKDATED_TASK}#0"].metadata
    assert late["kind"] == "call"
    assert late["ts"] == _epoch(datetime(2026, 2, 1))  # when it happened
    assert late["known_ts"] == _epoch(datetime(2026, 4, 20, 10))  # when it was logged

    next_step = docs[f"{O1}:next_step#0"]
    assert next_step.metadata["kind"] == "next_step" and next_step.metadata["activity_id"] == O1
    assert next_step.text == "Send revised pricing to Dana by Friday"

    account_note = docs[f"{sfid('00T', 91)}#0"].metadata
    assert "deal_id" not in account_note and account_note["account_id"] == A1
    assert account_note["owner_id"] == U1

    assert f"{sfid('00T', 92)}#0" not in docs  # deleted in Salesforce
    long_thread = [i for i in docs if i.startswith(sfid("02s", 91))]
    assert len(long_thread) == 3  # 360 words -> three chunks
    assert all(None not in d.metadata.values() for d in docs.values())  # Chroma rejects None
