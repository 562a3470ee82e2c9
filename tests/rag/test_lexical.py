from __future__ import annotations

import numpy as np

from dealcast.rag.lexical import LexicalIndex, exact_terms, tokenize

TEXTS = [
    "They asked for a $120,000 budget and 15% off.",
    "Forecastly showed them a cheaper demo last week.",
    "Security review is waiting on the pen test summary.",
    "Heather will present the business case to the board.",
]


def test_tokenize_keeps_numbers_whole_and_drops_stopwords() -> None:
    assert tokenize("They asked for a $120,000 budget and 15% off.") == [
        "asked",
        "120000",
        "budget",
        "15",
        "off",
    ]


def test_exact_terms_are_numbers_names_and_unknown_words() -> None:
    assert exact_terms("Did the customer push back on cost?") == set()
    assert exact_terms("What did Heather say about forecastly?") == {"heather", "forecastly"}
    assert exact_terms("PO 4471-889: any MSA redlines?") == {"4471", "889", "msa", "redlines"}
    assert exact_terms("Pricing. Budget! Security: review") == set()  # sentence starts


def test_search_scores_masks_and_requires_exact_terms() -> None:
    index = LexicalIndex([f"d{i}" for i in range(len(TEXTS))], TEXTS)
    assert [row for row, _ in index.search("120,000 budget", None, 2)] == [0]
    assert index.search("forecastly", np.array([True, False, True, True]), 5) == []
    assert [r for r, _ in index.search("Heather security review", None, 5)] == [2, 3]
    heather = index.search("Heather security review", None, 5, must_match={"heather"})
    assert [r for r, _ in heather] == [3]
    assert index.search("security", None, 5, must_match=set()) == []
    assert LexicalIndex([], []).search("anything", None, 3) == []
