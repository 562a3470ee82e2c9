from __future__ import annotations

import numpy as np
import pytest
from chromadb.utils.embedding_functions import known_embedding_functions

from dealcast.rag.embeddings import DIMENSIONS, MiniLmEmbedder, MiniLmEmbeddingFunction

TEXTS = [
    "The price is higher than we expected; can you offer a discount?",
    "Could you lower the cost? Our budget is tighter this year.",
    "The football match was postponed because of heavy rain.",
    "Security review: InfoSec needs the pen test summary.",
]


@pytest.fixture(scope="module")
def embedder() -> MiniLmEmbedder:
    return MiniLmEmbedder(batch_size=2, threads=1)


def test_vectors_are_deterministic_and_normalised(embedder: MiniLmEmbedder) -> None:
    first, second = embedder.embed(TEXTS), embedder.embed(TEXTS)
    assert first.shape == (len(TEXTS), DIMENSIONS)
    assert first.dtype == np.float32
    np.testing.assert_array_equal(first, second)
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)


def test_batching_and_padding_do_not_change_a_vector(embedder: MiniLmEmbedder) -> None:
    alone = embedder.embed([TEXTS[0]])[0]
    padded = MiniLmEmbedder(batch_size=8, threads=1).embed(TEXTS)[0]  # padded to the longest
    assert float(alone @ padded) > 0.999


def test_similar_sentences_are_closer_than_unrelated(embedder: MiniLmEmbedder) -> None:
    v = embedder.embed(TEXTS)
    assert v[0] @ v[1] > v[0] @ v[2] + 0.2
    assert v[0] @ v[1] > v[0] @ v[3]


def test_edge_inputs(embedder: MiniLmEmbedder) -> None:
    assert embedder.embed([]).shape == (0, DIMENSIONS)
    out = embedder.embed(["", "word " * 2000])  # empty and far past 256 tokens
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    with pytest.raises(ValueError, match="batch_size"):
        MiniLmEmbedder(batch_size=0)


def test_chroma_registration_round_trips() -> None:
    ef = MiniLmEmbeddingFunction(batch_size=16)
    assert known_embedding_functions[ef.name()] is MiniLmEmbeddingFunction
    rebuilt = MiniLmEmbeddingFunction.build_from_config(ef.get_config())
    assert rebuilt.embedder.batch_size == 16
    assert ef.default_space() == "cosine"
    np.testing.assert_allclose(np.array(ef(TEXTS[:1])), np.array(rebuilt(TEXTS[:1])), atol=1e-6)
    with pytest.raises(ValueError, match="unknown embedding model"):
        MiniLmEmbeddingFunction.build_from_config({"model": "something-else"})
