"""Tickets rendered from playbooks: Jinja2 in a sandbox, compiled once at start-up.

Playbook templates come from configuration, so they run in Jinja2's immutable sandbox with
StrictUndefined: `{{ ''.__class__ }}` or a misspelt variable fails loudly instead of
running or printing nothing. They see plain dicts and lists built from what the team may
read (respond.visibility), never the settings objects (a Team holds webhook secrets).
Playbook text renders as plain text; the HTML layout escapes it like every other value.
Rendering reads no clock: the same inputs give byte-identical tickets.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError, TemplateSyntaxError, meta
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from igsc.errors import ConfigError
from igsc.partners import Partner
from igsc.respond_settings import Playbook, PlaybookStep, Rule, Team
from igsc.stix_time import format_us, parse_us
from respond.model import EvidenceItem, Incident, RenderedTicket, StepDue, Ticket
from respond.visibility import TeamView, team_view, tlp_label, withheld_lines

# What a playbook template may name; anything else is refused at start-up.
CONTEXT_NAMES = frozenset({"incident", "evidence", "withheld", "team", "rule", "step", "ticket_id"})
_MAX_SEQUENCE = 100_000  # longest string or list `*` may build, biggest `**` exponent: 64
_RENDER_FAILURES = (TemplateError, TypeError, ValueError, ArithmeticError, LookupError)


class PlaybookTemplateError(ConfigError):
    """A playbook template that does not compile, or failed (or was refused) at render."""


class _Sandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, also refusing `'x' * 10**9` (one template, all the memory)."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, int) and abs(right) > 64:
            raise SecurityError("exponent too large")
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if (
                    isinstance(seq, str | list | tuple)
                    and isinstance(times, int)
                    and len(seq) * times > _MAX_SEQUENCE
                ):
                    raise SecurityError("sequence too long")
        return super().call_binop(context, operator, left, right)


def _environment(*, html: bool) -> _Sandbox:
    return _Sandbox(
        undefined=StrictUndefined,
        autoescape=html,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )


_TEXT = _environment(html=False)
_HTML = _environment(html=True)


def _layout(name: str, *, env: _Sandbox) -> Template:
    source = resources.files("respond").joinpath("templates", name).read_text(encoding="utf-8")
    return env.from_string(source)


# A stand-in context for the start-up trial render of every playbook template.
_SAMPLE: dict[str, Any] = json.loads(
    resources.files("respond").joinpath("templates", "sample_context.json").read_text("utf-8")
)
_TICKET_TEXT = _layout("ticket.txt.j2", env=_TEXT)
_TICKET_HTML = _layout("ticket.html.j2", env=_HTML)
_ESCALATION_TEXT = _layout("escalation.txt.j2", env=_TEXT)
_ESCALATION_HTML = _layout("escalation.html.j2", env=_HTML)


def human_duration(seconds: int) -> str:
    """'24h', '3d', '30m': the largest unit that divides it (hours up to two days)."""
    if seconds % 86_400 == 0 and seconds >= 2 * 86_400:
        return f"{seconds // 86_400}d"
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _rfc3339(micros: int) -> str:
    text = format_us(micros)
    return text.replace(".000000Z", "Z")


def _one_line(text: str) -> str:
    # A subject becomes an e-mail header: no line breaks, whatever the template does.
    return " ".join(text.split())


@dataclass(frozen=True, slots=True, kw_only=True)
class _Compiled:
    key: str  # the configuration key of its source, for errors
    template: Template

    def render(self, context: Mapping[str, Any]) -> str:
        try:
            return self.template.render(context)
        except SecurityError as exc:
            raise PlaybookTemplateError(self.key, f"refused by the sandbox: {exc}") from exc
        except _RENDER_FAILURES as exc:
            raise PlaybookTemplateError(self.key, f"failed to render: {exc}") from exc


@dataclass(frozen=True, slots=True, kw_only=True)
class _CompiledPlaybook:
    playbook: Playbook
    subject: _Compiled
    summary: _Compiled
    steps: tuple[tuple[PlaybookStep, _Compiled], ...]


def _compile(*, key: str, source: str) -> _Compiled:
    try:
        parsed = _TEXT.parse(source)
        template = _TEXT.from_string(parsed)
    except TemplateSyntaxError as exc:
        raise PlaybookTemplateError(key, f"{exc.message} (line {exc.lineno})") from exc
    unknown = meta.find_undeclared_variables(parsed) - CONTEXT_NAMES - set(_TEXT.globals)
    if unknown:
        known = ", ".join(sorted(CONTEXT_NAMES))
        raise PlaybookTemplateError(
            key, f"unknown variable(s) {', '.join(sorted(unknown))} (known: {known})"
        )
    compiled = _Compiled(key=key, template=template)
    try:
        compiled.template.render(_SAMPLE)
    except SecurityError as exc:
        # Sandbox escapes on the plain path are caught now, not at the first incident.
        raise PlaybookTemplateError(key, f"refused by the sandbox: {exc}") from exc
    except _RENDER_FAILURES:
        pass  # may depend on real data (an index, a missing field): judged at render time
    return compiled


@dataclass(frozen=True, slots=True, kw_only=True)
class CompiledPlaybooks:
    """Every playbook's templates, compiled; renders a team's ticket from an incident."""

    by_id: Mapping[str, _CompiledPlaybook]

    def render_ticket(
        self,
        *,
        incident: Incident,
        team: Team,
        rule: Rule,
        registry: Sequence[Partner],
        created_at: str,
        ticket_id: str,
    ) -> RenderedTicket:
        """The ticket `team` gets for `incident`, showing only what it may read.

        Step i is due at created_at plus the due_in of steps 1..i; `created_at` is RFC 3339
        UTC (the caller's clock, so a re-render of a stored ticket gives the same text)."""
        compiled = self.by_id.get(incident.playbook)
        if compiled is None:
            raise ConfigError(
                f"rules[{rule.id}].playbook", f"playbook {incident.playbook!r} is not configured"
            )
        view = team_view(incident=incident, team=team, registry=registry)
        base = _context(incident=incident, view=view, team=team, rule=rule, ticket_id=ticket_id)
        start_us = parse_us(created_at)
        elapsed = 0
        step_contexts: list[dict[str, Any]] = []
        for number, (step, _) in enumerate(compiled.steps, start=1):
            elapsed += step.due_in
            step_contexts.append(
                {
                    "number": number,
                    "title": step.title,
                    "owner": step.owner,
                    "due_in": human_duration(step.due_in),
                    "due_at": _rfc3339(start_us + elapsed * 1_000_000),
                }
            )
        head = {**base, "step": step_contexts[0]}
        subject = _one_line(compiled.subject.render(head))
        summary = compiled.summary.render(head).strip()
        steps: list[dict[str, Any]] = []
        for (_, text), step_context in zip(compiled.steps, step_contexts, strict=True):
            rendered = text.render({**base, "step": step_context}).strip()
            steps.append({**step_context, "text": rendered})
        layout = {
            **base,
            "subject": subject,
            "summary": summary,
            "steps": steps,
            "table": _text_table(base["evidence"]),
        }
        return RenderedTicket(
            subject=subject,
            body=_TICKET_TEXT.render(layout) + "\n",
            html=_TICKET_HTML.render(layout) + "\n",
            steps=tuple(
                StepDue(title=s["title"], owner=s["owner"], due_at=s["due_at"], text=s["text"])
                for s in steps
            ),
            due_at=steps[0]["due_at"],
        )


def compile_playbooks(*, playbooks: Sequence[Playbook]) -> CompiledPlaybooks:
    """Compile every template; PlaybookTemplateError (a ConfigError) names the first bad one,
    e.g. `playbooks[ransomware].steps[1].text`, with Jinja's message and line."""
    by_id = {}
    for playbook in playbooks:
        where = f"playbooks[{playbook.id}]"
        by_id[playbook.id] = _CompiledPlaybook(
            playbook=playbook,
            subject=_compile(key=f"{where}.subject", source=playbook.subject),
            summary=_compile(key=f"{where}.summary", source=playbook.summary),
            steps=tuple(
                (step, _compile(key=f"{where}.steps[{n}].text", source=step.text))
                for n, step in enumerate(playbook.steps)
            ),
        )
    return CompiledPlaybooks(by_id=by_id)


def render_escalation(*, ticket: Ticket, step: int) -> tuple[str, str, str]:
    """(subject, text, html) of the notice that step `step` (0-based, as in
    Ticket.escalated_steps) passed its due time; it repeats only what the ticket shows."""
    if not 0 <= step < len(ticket.steps):
        raise IndexError(f"ticket {ticket.id} has no step {step}")
    due = ticket.steps[step]
    subject = _one_line(f"[ESCALATION] step {step + 1} overdue: {ticket.subject}")
    context: dict[str, Any] = {
        "subject": subject,
        "ticket": {
            "id": ticket.id,
            "incident": ticket.incident,
            "subject": ticket.subject,
            "severity": ticket.severity,
            "team": ticket.team,
            "country": ticket.country,
            "state": str(ticket.state),
        },
        "step": {"number": step + 1, "title": due.title, "owner": due.owner, "due_at": due.due_at},
    }
    text = _ESCALATION_TEXT.render(context) + "\n"
    html = _ESCALATION_HTML.render(context) + "\n"
    return subject, text, html


def _evidence(item: EvidenceItem) -> dict[str, Any]:
    return {
        "kind": str(item.kind),
        "ref": item.ref,
        "partner": item.partner,
        "country": item.country,
        "tlp": tlp_label(item.tlp).upper(),
        "at": item.at,
        "count": item.count,
        "confidence": item.confidence,
        "sectors": list(item.sectors),
    }


def _context(
    *, incident: Incident, view: TeamView, team: Team, rule: Rule, ticket_id: str
) -> dict[str, Any]:
    return {
        "incident": {
            "id": incident.id,
            "rule": incident.rule,
            "title": incident.title,
            "severity": incident.severity,
            "status": str(incident.status),
            "subject_label": view.subject_label,
            "subject_kind": incident.subject_kind,
            "opened_at": view.opened_at,
            "updated_at": view.updated_at,
            "distinct": incident.distinct,
            "distinct_count": incident.distinct_count,
            "threshold": incident.threshold,
            "window": human_duration(incident.window_s),
            "countries": list(view.visible_countries),
            "partners": list(view.visible_partners),
        },
        "evidence": [_evidence(item) for item in view.visible],
        "withheld": list(withheld_lines(view)),
        "team": {
            "id": team.id,
            "name": team.name,
            "country": team.country,
            "partner": team.partner,
            "sectors": list(team.sectors),
            "clearance": team.clearance,
        },
        "rule": {
            "id": rule.id,
            "title": rule.title,
            "severity": str(rule.severity),
            "distinct": str(rule.distinct),
            "at_least": rule.at_least,
            "within": human_duration(rule.within),
            "subject": str(rule.subject),
            "playbook": rule.playbook,
        },
        "ticket_id": ticket_id,
    }


def _text_table(evidence: Sequence[Mapping[str, Any]]) -> list[str]:
    """The visible evidence as aligned columns (computed here: Jinja pads badly)."""
    if not evidence:
        return []
    rows = [("KIND", "PARTNER", "COUNTRY", "TLP", "TIME", "COUNT", "STIX ID")]
    rows += [
        (
            e["kind"],
            e["partner"],
            e["country"],
            f"TLP:{e['tlp']}",
            e["at"],
            str(e["count"]),
            e["ref"],
        )
        for e in evidence
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
