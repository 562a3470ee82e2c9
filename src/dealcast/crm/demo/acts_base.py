"""Per-deal context and the activity row builders (Task, Event, EmailMessage).

Rows are tuples whose first element is the instant used for ordering; Ids and string
formatting are added later, column by column (see `chunk.py`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dealcast.crm.demo import phrases as ph
from dealcast.crm.demo.fmt import DAY
from dealcast.crm.demo.latent import Plan
from dealcast.crm.demo.lifecycle import Life
from dealcast.crm.demo.rand import Stream
from dealcast.crm.demo.roles import Role
from dealcast.crm.demo.text import Slots, Texts

# (sort ts, WhoId, OwnerId, Subject, Description, ActivityDate, Status, TaskSubtype, Created)
TaskRow = tuple[int, str, str, str, str | None, int, str, str, int]
# (sort ts, WhoId, OwnerId, Subject, Description, Start, End, ActivityDate, Created)
EventRow = tuple[int, str, str, str, str, int, int, int, int]
# (sort ts, Subject, TextBody, From, To, MessageDate, Incoming, Created)
EmailRow = tuple[int, str, str, str, str, int, str, int]


def _reply(subject: str) -> str:
    return subject if subject.startswith("Re: ") else f"Re: {subject}"


@dataclass(slots=True)
class DealCtx:
    p: Plan
    i: int
    s: Stream
    tx: Texts
    life: Life
    roles: list[Role]
    slots: list[Slots]  # per role
    c: int
    end: int
    cutoff: int
    stop: int  # min(end, cutoff): past activities happen before it
    e: float
    seg: int
    won: bool
    gs: int
    ge: int
    ss: int
    se: int
    comp_at: int
    pricing_at: int
    budget_at: int
    dm_at: int
    inj_from: int  # inject into the first inbound email at or after this instant
    injection: int  # variant, or -1
    injected: bool = False

    @classmethod
    def make(
        cls,
        p: Plan,
        i: int,
        s: Stream,
        tx: Texts,
        life: Life,
        roles: list[Role],
        slots: list[Slots],
    ) -> DealCtx:
        c, end = p.created[i], p.end[i]
        stop = min(end, p.cutoff)
        return cls(
            p=p,
            i=i,
            s=s,
            tx=tx,
            life=life,
            roles=roles,
            slots=slots,
            c=c,
            end=end,
            cutoff=p.cutoff,
            stop=stop,
            e=p.engagement[i],
            seg=p.segment[i],
            won=p.won[i],
            gs=p.ghost_start[i],
            ge=p.ghost_end[i],
            ss=p.stall_start[i],
            se=p.stall_end[i],
            comp_at=p.comp_at[i],
            pricing_at=p.pricing_at[i],
            budget_at=p.budget_at[i],
            dm_at=p.dm_at[i],
            inj_from=c + (stop - c) // 3,
            injection=p.injection[i],
        )

    def silent(self, role: Role, ts: int) -> bool:
        return role.primary and self.gs <= ts < self.ge

    def rep_at(self, ts: int) -> int:
        p, i = self.p, self.i
        return p.owner2[i] if ts >= p.switch[i] else p.owner[i]

    def slots_at(self, role: Role, ts: int) -> Slots:
        slots = self.slots[self.roles.index(role)]
        rep = self.rep_at(ts)
        if slots.get("_rep") != str(rep):
            u = self.p.users
            slots.update(
                _rep=str(rep),
                rep=u.first[rep],
                rep_name=u.names[rep],
                rep_email=u.emails[rep],
                rep_phone=u.phones[rep],
            )
        return slots


@dataclass(slots=True)
class Acts:
    tasks: list[TaskRow] = field(default_factory=list)
    events: list[EventRow] = field(default_factory=list)
    emails: list[EmailRow] = field(default_factory=list)

    def email_out(
        self,
        x: DealCtx,
        ts: int,
        role: Role,
        topic: str,
        thread: str | None = None,
        cc: Role | None = None,
    ) -> str | None:
        """An email from the rep; `thread` is the subject being replied to. Returns the
        subject, or None when the email would fall after the deal's end or `today`."""
        if ts >= x.stop:
            return None
        slots = x.slots_at(role, ts)
        subject = _reply(thread) if thread else x.tx.subject(topic, slots)
        body = x.tx.outbound(topic, slots, short=thread is not None and x.s.chance(0.5))
        to = slots["c_email"]
        if cc is not None:
            to = f"{to}; {x.slots[x.roles.index(cc)]['c_email']}"
        self.emails.append((ts, subject, body, slots["rep_email"], to, ts, "false", ts))
        return subject

    def email_in(
        self, x: DealCtx, ts: int, role: Role, topic: str, thread: str | None = None
    ) -> str | None:
        """An email from a buyer contact (see `email_out`)."""
        if ts >= x.stop:
            return None
        s = x.s
        slots = x.slots_at(role, ts)
        late = ts > x.c + (x.end - x.c) // 2
        p_pos = 0.12 + 0.3 * x.e + (0.1 if x.won else 0.0)
        p_neg = 0.04 + 0.15 * (1 - x.e) + (0.15 if late and not x.won else 0.0)
        tone = 1 if s.chance(p_pos) else -1 if s.chance(p_neg) else 0
        extra = None
        if x.injection >= 0 and not x.injected and ts >= x.inj_from:
            extra = ph.INJECTIONS[x.injection % len(ph.INJECTIONS)]
            x.injected = True
        body = x.tx.inbound(topic, slots, tone, extra)
        subject = _reply(thread) if thread else x.tx.subject(topic, slots)
        row = (ts, subject, body, slots["c_email"], slots["rep_email"], ts, "true", ts)
        self.emails.append(row)
        return subject

    def inject_late(self, x: DealCtx) -> None:
        """Put the deal's injection into its last inbound email when none came after
        `inj_from` (the text goes before the sign-off, like in `Texts.inbound`)."""
        if x.injection < 0 or x.injected:
            return
        for k in range(len(self.emails) - 1, -1, -1):
            row = self.emails[k]
            if row[6] != "true":
                continue
            body = row[2]
            at = max(body.rfind(f"\n\n{so}\n") for so in ph.SIGNOFFS)
            if at < 0:
                return
            text = ph.INJECTIONS[x.injection % len(ph.INJECTIONS)]
            body = f"{body[:at]}\n\n{text}{body[at:]}"
            self.emails[k] = (*row[:2], body, *row[3:])
            x.injected = True
            return

    def call(self, x: DealCtx, ts: int, role: Role, topic: str) -> None:
        if ts >= x.stop:
            return
        if x.silent(role, ts):
            topic = "ghost"
        slots = x.slots_at(role, ts)
        subject, note = x.tx.call(topic, slots)
        made = min(ts + int(x.s.uniform(300, 3 * 3600)), x.cutoff - 1)
        owner = x.p.user_ids[x.rep_at(ts)]
        row = (ts, role.contact_id, owner, subject, note, ts // DAY, "Completed", "Call", made)
        self.tasks.append(row)

    def meeting(
        self, x: DealCtx, ts: int, role: Role, topic: str, created: int | None = None
    ) -> None:
        """A past meeting (logged after it ends) or, with `created`, a scheduled one."""
        if created is None and (ts >= x.stop or x.silent(role, ts)):
            return
        s = x.s
        slots = x.slots_at(role, ts)
        subject, notes = x.tx.meeting(topic, slots, future=created is not None)
        finish = ts + s.pick((30, 45, 60, 60)) * 60
        if created is None:
            if finish >= x.cutoff:
                return
            created = min(finish + int(s.uniform(600, 20 * 3600)), x.cutoff - 1)
        owner = x.p.user_ids[x.rep_at(ts)]
        self.events.append(
            (ts, role.contact_id, owner, subject, notes, ts, finish, ts // DAY, created)
        )

    def todo(self, x: DealCtx, ts: int, topic: str, due: int | None = None) -> None:
        """A completed to-do on `ts`'s date or, with `due`, an open one created at `ts`."""
        if due is None and ts >= x.stop:
            return
        slots = x.slots_at(x.roles[0], ts)
        subject, desc = x.tx.todo(topic, slots)
        owner = x.p.user_ids[x.rep_at(ts)]
        who = x.roles[0].contact_id
        if due is None:
            self.tasks.append((ts, who, owner, subject, desc, ts // DAY, "Completed", "Task", ts))
        else:
            self.tasks.append((ts, who, owner, subject, desc, due, "Not Started", "Task", ts))
