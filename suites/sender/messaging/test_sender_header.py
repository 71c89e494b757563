"""The ITK3 message Bundle and MessageHeader the sender under test sends (one rule per requirement).

Each rule judges the collected message; a rule whose subject is missing (no MessageHeader, no handling
extension) is not judged, naming the requirement that reports the absence.
"""

from __future__ import annotations

import pytest

from gpc_assure.checks import mesh as mesh_rules
from gpc_assure.checks import send_document as sd
from gpc_assure.messaging.practice import readable

RULES = [
    ("MSG-SD-021", "a Bundle of type message, profiled, with an identifier", sd.message_bundle, None),
    ("MSG-SD-022", "three entries, the MessageHeader first", sd.message_entries, None),
    ("MSG-SD-023", "MessageHeader profiled ITK-MessageHeader-2", sd.header_profile, None),
    ("MSG-SD-024", "event ITK007C", sd.header_event, None),
    ("MSG-SD-025", "sender is the ITK header Organization with an ODS code", sd.header_sender, None),
    ("MSG-SD-028", "focus is the document Bundle", sd.header_focus, None),
    ("MSG-SD-029", "no destination (no receiver in v1.3)", sd.header_no_destination, "RECEIVER-V2"),
    ("MSG-SD-030", "the handling extension with its six parts", sd.handling_present, None),
    ("MSG-SD-031", "BusAckRequested is true", sd.bus_ack_requested, None),
    ("MSG-SD-032", "InfAckRequested is true", sd.inf_ack_requested, None),
    ("MSG-SD-033", "RecipientType coded for the version", sd.recipient_type, "SD-C08"),
    ("MSG-SD-034", "the Send Document MessageDefinition", sd.message_definition, "SD-C03"),
    ("MSG-SD-035", "SenderReference names the encounter", sd.sender_reference, None),
    ("MSG-SD-036", "LocalExtension for the version", sd.local_extension, "SD-C02"),
]


@pytest.mark.title("Send Document message: {what}")
@pytest.mark.parametrize(("rid", "what", "rule", "reading"),
                         [pytest.param(*r, id=r[0], marks=pytest.mark.requirement(r[0])) for r in RULES])
def test_message_rule(rid, what, rule, reading, document, mesh_setup, verify):
    message = readable(verify, document)
    verify(document.arrival.exchange, sd.message_check(rule, mesh_setup.spec, rid, reading, message, name=what))


@pytest.mark.title("MessageHeader.source.endpoint is the mailbox the message came from")
@pytest.mark.requirement("MSG-SD-026")
def test_source_endpoint(document, mesh_setup, verify):
    message = readable(verify, document)
    ex = document.arrival.exchange
    verify(ex, sd.message_check(sd.header_source, mesh_setup.spec, "MSG-SD-026", message=message,
                                name="MessageHeader.source.endpoint holds a MESH mailbox"))
    verify.rule("MSG-SD-026", "MessageHeader.source.endpoint is the mailbox the message came from (Mex-From)",
                lambda: mesh_rules.source_is_sender(document.headers, message), exchange=ex)


@pytest.mark.title("MessageHeader.timestamp says when the message was made")
@pytest.mark.requirement("MSG-SD-027")
def test_timestamp(document, mesh_setup, verify):
    message = readable(verify, document)
    window = "" if document.reached_mesh is None else ", within the window before it reached MESH"
    verify(document.arrival.exchange,
           sd.message_check(sd.header_timestamp, mesh_setup.spec, "MSG-SD-027", "TIMESTAMP-WINDOW", message,
                            name=f"MessageHeader.timestamp is an instant with a time zone{window}",
                            sent_at=document.reached_mesh))
