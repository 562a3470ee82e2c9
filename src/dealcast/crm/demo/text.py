"""Composes email bodies, call notes, meeting notes and to-dos from `phrases`.

A message is a greeting, an optional opener, one topic sentence (sometimes two), optional
tone and scheduling sentences, a closing, a sign-off and a signature. Inbound emails and
call notes end with the contact's signature (name, title, phone, email). Slots are filled
with `str.format_map` from a per-contact dict that the caller keeps up to date.
"""

from __future__ import annotations

from dealcast.crm.demo import phrases as ph
from dealcast.crm.demo.rand import Stream

Slots = dict[str, str]

_GREET_REP = tuple(g.replace("{first}", "{rep}") for g in ph.GREETINGS)
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "next Tuesday", "next week")
_TIMES = ("10am ET", "2pm ET", "11:30 ET", "3pm", "9:30am PT", "1pm ET", "4pm ET")
_DISCOUNTS = ("10%", "15%", "20%", "25%", "12%", "30%")
_NEXT = ("Next step: ", "Next steps: ", "Action: ", "Follow-up: ")
_CALL_PREFIX = ("Call: ", "Call with {name}: ", "", "Logged call - ")


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


class Texts:
    __slots__ = ("_s",)

    def __init__(self, stream: Stream) -> None:
        self._s = stream

    def _fill(self, template: str, slots: Slots) -> str:
        s = self._s
        if "{day}" in template:
            slots["day"] = s.pick(_DAYS)
        if "{time}" in template:
            slots["time"] = s.pick(_TIMES)
        if "{discount}" in template:
            slots["discount"] = s.pick(_DISCOUNTS)
        return template.format_map(slots).replace("..", ".")

    def subject(self, topic: str, slots: Slots) -> str:
        return self._fill(self._s.pick(ph.TOPICS[topic]["subj"]), slots)

    def outbound(self, topic: str, slots: Slots, short: bool = False) -> str:
        s, t = self._s, ph.TOPICS[topic]
        lines = t.get("out") or ph.TOPICS["checkin"]["out"]
        body = s.pick(lines)
        if short:
            return self._fill(f"{s.pick(ph.GREETINGS)}\n\n{body}\n\n{{rep}}", slots)
        opener = s.pick(ph.OPENERS)
        if opener:
            body = f"{opener} {body}"
        if topic != "scheduling" and s.chance(0.3):
            body = f"{body} {s.pick(ph.SCHEDULING)}"
        closer = s.pick(ph.CLOSERS)
        parts = [s.pick(ph.GREETINGS), body]
        if closer:
            parts.append(closer)
        parts.append(f"{s.pick(ph.SIGNOFFS)}\n{s.pick(ph.REP_SIGNATURES)}")
        return self._fill("\n\n".join(parts), slots)

    def inbound(self, topic: str, slots: Slots, tone: int = 0, extra: str | None = None) -> str:
        """tone: 1 positive, -1 negative, 0 neutral. `extra` is appended to the body."""
        s, t = self._s, ph.TOPICS[topic]
        body = s.pick(t["in"])
        if s.chance(0.25) and len(t["in"]) > 1:
            second = s.pick(t["in"])
            if second != body:
                body = f"{body} {second}"
        if tone > 0:
            body = f"{body} {s.pick(ph.POSITIVE)}"
        elif tone < 0:
            body = f"{body} {s.pick(ph.NEGATIVE)}"
        if topic != "scheduling" and s.chance(0.2):
            body = f"{body} {s.pick(ph.SCHEDULING)}"
        parts = [s.pick(_GREET_REP), body]
        if extra:
            parts.append(extra.replace("{", "{{").replace("}", "}}"))
        parts.append(f"{s.pick(ph.SIGNOFFS)}\n{s.pick(ph.CONTACT_SIGNATURES)}")
        return self._fill("\n\n".join(parts), slots)

    def call(self, topic: str, slots: Slots) -> tuple[str, str]:
        s, t = self._s, ph.TOPICS[topic]
        note = s.pick(t["call"])
        if s.chance(0.4) and "todo" in t:
            note = f"{note}\n{s.pick(_NEXT)}{_lower_first(s.pick(t['todo']))}."
        subject = s.pick(_CALL_PREFIX) + s.pick(t["subj"])
        text = f"{note}\n\n{s.pick(ph.NOTE_SIGNATURES)}"
        return self._fill(subject, slots), self._fill(text, slots)

    def meeting(self, topic: str, slots: Slots, future: bool = False) -> tuple[str, str]:
        s, t = self._s, ph.TOPICS[topic]
        subject = s.pick(t.get("meet_subj") or ph.TOPICS["scheduling"]["meet_subj"])
        if future:
            todo = s.pick(t.get("todo") or ph.TOPICS["checkin"]["todo"])
            text = f"Agenda: {_lower_first(todo)}; agree next steps."
            text += "\nAttendees: {name}, {rep_name}"
        else:
            note = s.pick(t.get("meet") or ph.TOPICS["checkin"]["meet"])
            text = f"Attendees: {{name}} ({{title}}), {{rep_name}}.\n{note}"
            if s.chance(0.5) and "todo" in t:
                text = f"{text}\n{s.pick(_NEXT)}{_lower_first(s.pick(t['todo']))}."
        return self._fill(subject, slots), self._fill(text, slots)

    def todo(self, topic: str, slots: Slots) -> tuple[str, str | None]:
        s, t = self._s, ph.TOPICS[topic]
        subject = self._fill(s.pick(t.get("todo") or ph.TOPICS["checkin"]["todo"]), slots)
        if s.chance(0.5):
            return subject, None
        return subject, self._fill(f"{subject} ({{account}}).", slots)
