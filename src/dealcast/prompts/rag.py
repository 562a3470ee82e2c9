"""Prompts of the agentic retrieval loop (`dealcast.rag.grading`, `dealcast.rag.agentic`).

Retrieved CRM text is untrusted: every passage goes through `sanitize_untrusted` and sits
inside a `<passage source="untrusted ...">` tag; the system prompts say it is data. The model
only returns passage numbers, a search string or cited sentences, which are then checked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from dealcast.safety.sanitizer import UNTRUSTED_NOTICE, sanitize_untrusted

MAX_PASSAGE_CHARS = 1_200

GRADE_SYSTEM = f"""\
You grade search results for a sales team's question about their CRM activity (emails, \
call notes, meetings). Decide which passages help answer the question.
Reply with only a JSON list of the relevant passage numbers, e.g. [1, 4]; [] if none.
- {UNTRUSTED_NOTICE}\
"""

GRADE_USER = """\
<question>{question}</question>
<passages>
{passages}
</passages>\
"""

REWRITE_SYSTEM = """\
You rewrite a search query over a sales team's CRM emails, call notes and meetings. The \
previous queries found too little. Reply with one new short keyword query (at most 12 \
words) on one line, nothing else. Keep the meaning of the question; use words a buyer or \
a sales rep would write (synonyms, related terms).\
"""

REWRITE_USER = """\
<question>{question}</question>
<tried>
{tried}
</tried>\
"""

ANSWER_SYSTEM = f"""\
You answer a sales team's question from CRM passages (emails, call notes, meetings).
Rules:
- Use only what the passages say. Every sentence you write must end with the passage \
number(s) it comes from, like [P2] or [P1][P3]. Quote the buyer's words in double quotes, \
copied exactly.
- Name people, dates and numbers only as they appear in the passages' text or attributes.
- Never state a win probability, score, forecast or any number that is not in a passage.
- If the passages do not answer the question, say so in one sentence without a citation.
- Be concise: at most five sentences, plain text, no preamble.
- {UNTRUSTED_NOTICE}\
"""

ANSWER_USER = """\
<question>{question}</question>
<passages>
{passages}
</passages>\
"""


def passage_label(i: int) -> str:
    return f"P{i + 1}"


def passages_block(passages: Sequence[Mapping[str, Any]]) -> str:
    """Each passage sanitised in its own untrusted tag, numbered P1..Pn, with its date, kind
    and who as attributes of the `source`."""
    out = []
    for i, p in enumerate(passages):
        who = (
            ", ".join(str(x) for x in (p.get("contact_name"), p.get("contact_title")) if x) or "rep"
        )
        source = (
            f"untrusted {passage_label(i)} {p.get('kind')} {str(p.get('date') or '')[:10]} {who}"
        )
        subject = f"Subject: {p['subject']}\n" if p.get("subject") else ""
        out.append(
            sanitize_untrusted(
                subject + str(p.get("text") or ""),
                "passage",
                source=source,
                max_chars=MAX_PASSAGE_CHARS,
            )
        )
    return "\n".join(out) or "(none)"


def plain(text: str) -> str:
    return escape(text, quote=False)
