"""channels_for: the channels a team configured, for tickets or for escalations."""

from __future__ import annotations

import base64

import pytest

from igsc.errors import RejectedInput
from igsc.partners import Secret
from igsc.respond_settings import Channels, EmailChannel, RespondSettings, Team, WebhookChannel
from respond.channels import Outbound, channels_for
from tests.unit.respond.channels.channel_fakes import FIRST_MESSAGE_ID, make_ticket

HOOK = WebhookChannel(
    url="https://hooks.cert.nl.example/igsc",
    secret=Secret(value="whsec_" + base64.b64encode(bytes(32)).decode()),
)
MAIL = EmailChannel(to=("oncall@cert.nl.example",))


def _team(*, channels: Channels, escalation: Channels) -> Team:
    return Team(
        id="nl-oncall", country="NL", partner="cert-nl", channels=channels, escalation=escalation
    )


def test_tickets_go_to_the_team_channels_and_breaches_to_its_escalation_channels() -> None:
    team = _team(channels=Channels(webhook=HOOK, email=MAIL), escalation=Channels(email=MAIL))
    settings = RespondSettings()
    tickets = channels_for(team=team, escalation=False, settings=settings)
    breaches = channels_for(team=team, escalation=True, settings=settings)
    assert [c.name for c in tickets] == ["webhook", "email"]
    assert [c.name for c in breaches] == ["email"]


def test_a_team_without_channels_has_only_the_store() -> None:
    team = _team(channels=Channels(), escalation=Channels())
    assert channels_for(team=team, escalation=False, settings=RespondSettings()) == ()
    assert channels_for(team=team, escalation=True, settings=RespondSettings()) == ()


def test_an_unknown_event_is_rejected_before_any_channel_sees_it() -> None:
    with pytest.raises(RejectedInput, match=r"ticket\.deleted"):
        Outbound(
            delivery_id="msg_1",
            event="ticket.deleted",
            ticket=make_ticket(),
            first_message_id=FIRST_MESSAGE_ID,
        )
