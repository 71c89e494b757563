"""GP Connect 1.2.7 interactions: verb, path, Ssp-InteractionID and JWT scope for each call.

One table drives the client (what to send), the reference provider (what to accept) and the
consumer checks (what a consumer should have sent).
"""

from __future__ import annotations

from dataclasses import dataclass

PREFIX = "urn:nhs:names:services:gpconnect:fhir:"


@dataclass(frozen=True)
class Interaction:
    name: str
    method: str
    path: str  # relative to the service root; {id} is a logical id
    suffix: str  # Ssp-InteractionID without the common prefix
    scope: str  # JWT requested_scope
    flow: str

    @property
    def interaction_id(self) -> str:
        return PREFIX + self.suffix

    def url_path(self, **params: str) -> str:
        return self.path.format(**params)


INTERACTIONS: dict[str, Interaction] = {
    i.name: i
    for i in [
        Interaction("metadata.read", "GET", "/metadata", "rest:read:metadata-1", "organization/*.read",
                    "foundations"),
        Interaction("patient.find", "GET", "/Patient", "rest:search:patient-1", "patient/*.read", "foundations"),
        Interaction("patient.read", "GET", "/Patient/{id}", "rest:read:patient-1", "patient/*.read",
                    "foundations"),
        Interaction("patient.register", "POST", "/Patient/$gpc.registerpatient",
                    "operation:gpc.registerpatient-1", "patient/*.write", "foundations"),
        Interaction("practitioner.find", "GET", "/Practitioner", "rest:search:practitioner-1",
                    "organization/*.read", "foundations"),
        Interaction("practitioner.read", "GET", "/Practitioner/{id}", "rest:read:practitioner-1",
                    "organization/*.read", "foundations"),
        Interaction("organization.find", "GET", "/Organization", "rest:search:organization-1",
                    "organization/*.read", "foundations"),
        Interaction("organization.read", "GET", "/Organization/{id}", "rest:read:organization-1",
                    "organization/*.read", "foundations"),
        Interaction("location.read", "GET", "/Location/{id}", "rest:read:location-1", "organization/*.read",
                    "foundations"),
        Interaction("slot.search", "GET", "/Slot", "rest:search:slot-1", "organization/*.read", "appointments"),
        Interaction("appointment.book", "POST", "/Appointment", "rest:create:appointment-1", "patient/*.write",
                    "appointments"),
        Interaction("appointment.retrieve", "GET", "/Patient/{id}/Appointment",
                    "rest:search:patient_appointments-1", "patient/*.read", "appointments"),
        Interaction("appointment.read", "GET", "/Appointment/{id}", "rest:read:appointment-1", "patient/*.read",
                    "appointments"),
        Interaction("appointment.amend", "PUT", "/Appointment/{id}", "rest:update:appointment-1",
                    "patient/*.write", "appointments"),
        Interaction("appointment.cancel", "PUT", "/Appointment/{id}", "rest:cancel:appointment-1",
                    "patient/*.write", "appointments"),
    ]
}

BY_INTERACTION_ID: dict[str, Interaction] = {i.interaction_id: i for i in INTERACTIONS.values()}


def get(name: str) -> Interaction:
    try:
        return INTERACTIONS[name]
    except KeyError:
        raise KeyError(f"unknown interaction '{name}'") from None
