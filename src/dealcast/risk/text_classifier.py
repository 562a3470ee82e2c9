"""Learned text signals: TF-IDF (word 1-2 grams + char n-grams) and one logistic regression
per signal, trained at first use from the train split of the shipped snippet set.

A text's probability is the highest over its segments (sentences/lines of >= 30 chars), so
signatures, quoted chains or an injected sentence cannot dilute what the rest says.

Combination with the patterns ("gate"): each signal has two probability thresholds, a low
one for texts where the pattern matched and a higher one for texts where it did not. A gate
with hit = 0 is plain "pattern OR classifier"; a hit threshold above 0 lets the classifier
veto pattern hits it is confident are wrong ("cost center", "scheduled exports"). Both are
chosen on out-of-fold probabilities of the train split only (the test split stays held out).
On those out-of-fold predictions the gate beats the classifier alone for every signal
(bench/text_signals.py reports both on the test split).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import version as package_version

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold

from dealcast.evals import load_snippets, snippets_digest
from dealcast.risk.text_patterns import SIGNALS, TextSignals

# Bump when the features, model or threshold rule change: cached flags are keyed on it.
CLASSIFIER_VERSION = "1"
C = 30.0  # chosen on train-split CV: same macro F1 as 3 or 10, fewest flips from appended text
WORD_NGRAMS = (1, 2)
CHAR_NGRAMS = (3, 5)
FOLDS = 5
GRID = np.round(np.arange(0.05, 0.951, 0.025), 3)
CHUNK = 5000  # texts per transform; bounds memory of the char n-gram matrix
MIN_SEGMENT = 30  # characters; see segments()
_SENTENCES = re.compile(r"(?<=[.!?])\s+|\n+")


@dataclass(frozen=True)
class Gate:
    hit: float  # probability needed when the pattern matched (0: the pattern alone suffices)
    miss: float  # probability needed when it did not


class _Features:
    """Word and char_wb TF-IDF blocks, as sklearn's FeatureUnion would stack them."""

    def __init__(self, texts: Sequence[str]) -> None:
        self.word = TfidfVectorizer(ngram_range=WORD_NGRAMS, sublinear_tf=True)
        self.word.fit(texts)
        self.chars = CountVectorizer(analyzer="char_wb", ngram_range=CHAR_NGRAMS, min_df=2)
        self.char_tfidf = TfidfTransformer(sublinear_tf=True).fit(self.chars.fit_transform(texts))

    def transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        chars = self.char_tfidf.transform(self._char_counts(texts))
        return sparse.hstack([self.word.transform(texts), chars], format="csr")

    def _char_counts(self, texts: Sequence[str]) -> sparse.csr_matrix:
        # char_wb n-grams never cross whitespace, so a text's counts are the sum of its
        # tokens' counts: counting tokens per text and n-gramming each distinct token once is
        # ~3x faster than sklearn's per-text n-gram loop, with identical output.
        tokens = CountVectorizer(tokenizer=str.split, token_pattern=None, lowercase=True)
        try:
            per_text = tokens.fit_transform(texts)
        except ValueError:  # no token at all (every text blank)
            return sparse.csr_matrix((len(texts), len(self.chars.vocabulary_)))
        per_token = self.chars.transform(list(tokens.get_feature_names_out()))
        return sparse.csr_matrix(per_text @ per_token)


class SignalClassifier:
    """Fitted model: probabilities per signal and the gate that combines them with patterns."""

    def __init__(self, texts: Sequence[str], labels: np.ndarray) -> None:
        """Fit on `texts` with `labels` (bool, one column per signal in SIGNALS order)."""
        self.features = _Features(texts)
        x = self.features.transform(texts)
        models = [_logistic().fit(x, labels[:, j]) for j in range(len(SIGNALS))]
        self.coef = np.vstack([m.coef_[0] for m in models]).T
        self.intercept = np.array([m.intercept_[0] for m in models])
        self.gates: dict[str, Gate] = {s: Gate(0.0, 0.5) for s in SIGNALS}
        # Threshold for the classifier without patterns (chosen like the gates; for benches).
        self.alone: dict[str, float] = {s: 0.5 for s in SIGNALS}

    @classmethod
    def train(cls, texts: Sequence[str], labels: np.ndarray, hits: np.ndarray) -> SignalClassifier:
        """Fit, then choose each signal's gate on out-of-fold probabilities over these texts
        (`hits`: the pattern flags of the same texts)."""
        oof = np.zeros(labels.shape)
        for fit_idx, held_idx in KFold(FOLDS, shuffle=True, random_state=0).split(texts):
            fold = cls([texts[i] for i in fit_idx], labels[fit_idx])
            oof[held_idx] = fold.proba([texts[i] for i in held_idx])
        model = cls(texts, labels)
        model.gates = {
            s: _best_gate(oof[:, j], hits[:, j], labels[:, j]) for j, s in enumerate(SIGNALS)
        }
        never = np.zeros(len(texts), dtype=bool)
        model.alone = {
            s: _best_gate(oof[:, j], never, labels[:, j]).miss for j, s in enumerate(SIGNALS)
        }
        return model

    def proba(self, texts: Sequence[str]) -> np.ndarray:
        """Probability per text (rows) and signal (columns, SIGNALS order): the highest over
        the text's segments, so an appended signature, quoted chain or injected sentence
        can add a signal of its own but cannot dilute the others."""
        out = np.empty((len(texts), len(SIGNALS)))
        for start in range(0, len(texts), CHUNK):
            pieces = [segments(t) for t in texts[start : start + CHUNK]]
            firsts = np.cumsum([0] + [len(p) for p in pieces[:-1]])
            rows = self.segment_proba([seg for p in pieces for seg in p])
            out[start : start + len(pieces)] = np.maximum.reduceat(rows, firsts, axis=0)
        return out

    def segment_proba(self, segs: Sequence[str]) -> np.ndarray:
        return _sigmoid(self.features.transform(segs) @ self.coef + self.intercept)

    def decide(self, proba: np.ndarray, hits: np.ndarray, signals: Sequence[str]) -> np.ndarray:
        """Gated flags; `proba` and `hits` have one column per entry of `signals`."""
        out = np.empty(hits.shape, dtype=bool)
        for j, signal in enumerate(signals):
            gate = self.gates[signal]
            out[:, j] = np.where(hits[:, j], proba[:, j] >= gate.hit, proba[:, j] >= gate.miss)
        return out

    def evidence(self, text: str, signal: str, width: int = 80) -> str | None:
        """The sentence that most supports `signal` (for flags no pattern explains)."""
        pieces = segments(text or "")
        if not (text or "").strip():
            return None
        scores = self.segment_proba(pieces)[:, SIGNALS.index(signal)]
        best = " ".join(pieces[int(np.argmax(scores))].split())
        return best if len(best) <= 2 * width else best[: 2 * width - 1] + "…"


def segments(text: str) -> list[str]:
    """Sentences and lines, each merged with the next until MIN_SEGMENT characters long
    (a bare "Priya N." would otherwise score as pricing on its char n-grams)."""
    out: list[str] = []
    current = ""
    for part in _SENTENCES.split(text):
        current = f"{current} {part.strip()}".strip()
        if len(current) >= MIN_SEGMENT:
            out.append(current)
            current = ""
    if current and out:
        out[-1] = f"{out[-1]} {current}"
    elif current or not out:
        out.append(current)
    return out


def _logistic() -> LogisticRegression:
    # Dual liblinear: with far more features than texts it fits ~10x faster than the primal,
    # and random_state makes its coordinate order (and so the result) reproducible.
    return LogisticRegression(
        C=C, class_weight="balanced", solver="liblinear", dual=True, max_iter=5000, random_state=0
    )


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-z)))


def _f1(truth: np.ndarray, pred: np.ndarray) -> float:
    tp = float(np.sum(truth & pred))
    denom = float(np.sum(truth) + np.sum(pred))
    return 2 * tp / denom if denom else 0.0


def _best_gate(proba: np.ndarray, hits: np.ndarray, truth: np.ndarray) -> Gate:
    """Highest F1; ties go to the lowest thresholds (pattern OR classifier first)."""
    best, gate = -1.0, Gate(0.0, 0.5)
    for hit in np.concatenate([[0.0], GRID]):
        for miss in GRID:
            score = _f1(truth, np.where(hits, proba >= hit, proba >= miss))
            if score > best + 1e-12:
                best, gate = score, Gate(float(hit), float(miss))
    return gate


def labels_matrix(label_sets: Sequence[frozenset[str]]) -> np.ndarray:
    return np.array([[s in labels for s in SIGNALS] for labels in label_sets], dtype=bool)


@lru_cache(maxsize=1)
def default_classifier() -> SignalClassifier:
    """Trained on the train split of the shipped snippets (under a second), once per process.
    Only the train split: the held-out numbers then describe exactly this model."""
    train = load_snippets("train")
    texts = [s.text for s in train]
    hits = TextSignals(use_classifier=False).detect(pd.Series(texts))[list(SIGNALS)].to_numpy()
    return SignalClassifier.train(texts, labels_matrix([s.labels for s in train]), hits)


def fingerprint() -> str:
    """Identifies the default classifier's output without training it."""
    material = repr(
        (
            CLASSIFIER_VERSION,
            C,
            WORD_NGRAMS,
            CHAR_NGRAMS,
            FOLDS,
            MIN_SEGMENT,
            GRID.tolist(),
            snippets_digest(),
            package_version("scikit-learn"),
        )
    )
    return hashlib.sha256(material.encode()).hexdigest()[:16]
