"""Reference handlers: the Foundations directory reads (FND-FPR, FND-RPR, FND-FO, FND-RO, FND-RL).

Find a practitioner, Read a practitioner, Find an organisation, Read an organisation and Read a
location, rendered as CareConnect-GPC-Practitioner-1, -Organization-1 and -Location-1 from the
store. The renderers are public so other flows (e.g. slot search includes) show the same resources.

How a Find's identifier parameter is judged (readings D-03 and DIR-PARAM in the catalogue): no
`identifier` (names are case sensitive, so `Identifier` is no identifier) or more than one is
400 BAD_REQUEST; a blank system or value is 422 INVALID_PARAMETER, as the official suite expects;
a system that is present but not the one the search takes is 400 INVALID_IDENTIFIER_SYSTEM, as
the error page gives. No match is an empty searchset, never an error.
"""

from __future__ import annotations

from typing import Any

from gpc_assure.fhir import profiles
from gpc_assure.reference.data import Address, Location, Organisation, Practitioner
from gpc_assure.reference.faults import ActiveFaults, declare
from gpc_assure.reference.outcomes import ProviderError, bad_request, invalid_parameter, not_found
from gpc_assure.reference.routing import Context, Reply, handles, searchset
from gpc_assure.reference.store import Store

NHS_COMMUNICATION = profiles.SD + "Extension-CareConnect-GPC-NHSCommunication-1"
HUMAN_LANGUAGE_SYSTEM = "https://fhir.nhs.uk/STU3/CodeSystem/CareConnect-HumanLanguage-1"
ORGANISATION_TYPE_SYSTEM = "https://fhir.nhs.uk/STU3/CodeSystem/GPConnect-OrganisationType-1"

# -- faults: the identifier parameter of both Finds (one parser serves both) -----------------------
FIND_ACCEPTS_UNKNOWN_SYSTEM = declare(
    "directory-find-accepts-unknown-system", ["FND-FPR-004a", "FND-FO-003a", "ERR-001"], "foundations",
    "Find practitioner/organisation searches on the value whatever identifier system is given")
FIND_ACCEPTS_BLANK_SYSTEM = declare(
    "directory-find-accepts-blank-system", ["FND-FPR-004b", "FND-FO-003b", "ERR-001"], "foundations",
    "Find practitioner/organisation treats an identifier with an empty system ('|value') as the expected system")
FIND_ACCEPTS_EMPTY_VALUE = declare(
    "directory-find-accepts-empty-value", ["FND-FPR-004c", "FND-FO-003c", "ERR-002"], "foundations",
    "Find practitioner/organisation answers an identifier with an empty value with an empty searchset")
FIND_WITHOUT_IDENTIFIER_LISTS_ALL = declare(
    "directory-find-without-identifier-lists-all", ["FND-FPR-004d", "FND-FO-003d", "ERR-012"], "foundations",
    "Find practitioner/organisation with no identifier parameter returns every record instead of 400")
FIND_IDENTIFIER_NAME_ANY_CASE = declare(
    "directory-find-identifier-name-any-case", ["FND-FPR-004d", "FND-FO-003d", "ERR-012"], "foundations",
    "Find practitioner/organisation reads the identifier parameter whatever the case of its name ('Identifier')")
FIND_USES_FIRST_IDENTIFIER = declare(
    "directory-find-uses-first-identifier", ["FND-FPR-004e", "FND-FO-003e"], "foundations",
    "Find practitioner/organisation with two identifier parameters searches on the first and ignores the other")

# -- faults: Find / Read a practitioner -------------------------------------------------------------
FIND_PRACTITIONER_NOT_SEARCHSET = declare(
    "find-practitioner-not-searchset", ["FND-FPR-001a", "FND-FPR-001c"], "foundations",
    "Find practitioner answers with a Bundle of type collection instead of searchset")
FIND_PRACTITIONER_IGNORES_IDENTIFIER = declare(
    "find-practitioner-ignores-identifier", ["FND-FPR-001b", "FND-FPR-001c"], "foundations",
    "Find practitioner returns every practitioner whatever SDS user id is searched for")
FIND_PRACTITIONER_UNKNOWN_NOT_FOUND = declare(
    "find-practitioner-unknown-not-found", ["FND-FPR-001c"], "foundations",
    "Find practitioner answers 404 PRACTITIONER_NOT_FOUND when nothing matches, instead of an empty searchset")
PRACTITIONER_NAME_NOT_A_LIST = declare(
    "practitioner-name-not-a-list", ["FND-FPR-002a", "FND-FPR-001a"], "foundations",
    "Practitioner.name is a single JSON object (as in the page's old example), not a list")
PRACTITIONER_MISSING_PROFILE = declare(
    "practitioner-missing-profile", ["GEN-RES-001a"], "foundations",
    "Practitioner.meta has a versionId but no profile")
PRACTITIONER_MISSING_SDS_IDENTIFIER = declare(
    "practitioner-missing-sds-identifier", ["FND-FPR-002b"], "foundations",
    "Practitioner identifiers list the role profile ids but not the SDS user id")
PRACTITIONER_OMITS_ROLE_PROFILES = declare(
    "practitioner-omits-role-profile-ids", ["FND-FPR-002c"], "foundations",
    "Practitioner identifiers give the SDS user id only, not the practitioner's SDS role profile ids")
PRACTITIONER_EMPTY_ROLE_IDENTIFIER = declare(
    "practitioner-empty-role-profile-identifier", ["FND-FPR-002d"], "foundations",
    "a practitioner with no role profile gets a role-profile identifier with a system and no value")
PRACTITIONER_MISSING_FAMILY = declare(
    "practitioner-missing-family-name", ["FND-FPR-002e"], "foundations",
    "Practitioner.name carries text, given and prefix but no family name")
PRACTITIONER_BASE_COMMUNICATION = declare(
    "practitioner-uses-base-communication", ["FND-FPR-002f"], "foundations",
    "Practitioner languages go in the base communication element instead of the nhsCommunication extension")
PRACTITIONER_INCLUDES_TELECOM = declare(
    "practitioner-includes-telecom", ["FND-FPR-003"], "foundations",
    "Practitioner carries a telecom (the practice phone number), which must not be populated")
READ_PRACTITIONER_WRONG_ID = declare(
    "read-practitioner-wrong-id", ["GEN-HTTP-003"], "foundations",
    "Read practitioner returns the resource with the SDS user id as its logical id")
READ_PRACTITIONER_BUNDLE = declare(
    "read-practitioner-returns-bundle", ["FND-RPR-001a", "GEN-HTTP-003"], "foundations",
    "Read practitioner answers with a searchset Bundle holding the Practitioner instead of the Practitioner itself")
READ_PRACTITIONER_NO_ETAG = declare(
    "read-practitioner-missing-etag", ["GEN-HTTP-002"], "foundations",
    "Read practitioner answers without an ETag header")
READ_PRACTITIONER_WRONG_404 = declare(
    "read-practitioner-wrong-not-found-code", ["FND-RPR-002", "ERR-005"], "foundations",
    "Read practitioner of an unknown id answers 404 NO_RECORD_FOUND instead of PRACTITIONER_NOT_FOUND")

# -- faults: Find / Read an organisation -----------------------------------------------------------
FIND_ORGANISATION_BARE = declare(
    "find-organisation-returns-bare-resource", ["FND-FO-001a"], "foundations",
    "Find organisation with exactly one match answers with the Organization itself, not a searchset Bundle")
FIND_ORGANISATION_IGNORES_IDENTIFIER = declare(
    "find-organisation-ignores-identifier", ["FND-FO-001b", "FND-FO-001c"], "foundations",
    "Find organisation returns every organisation whatever ODS code is searched for")
FIND_ORGANISATION_UNKNOWN_NOT_FOUND = declare(
    "find-organisation-unknown-not-found", ["FND-FO-001c"], "foundations",
    "Find organisation answers 404 ORGANISATION_NOT_FOUND when nothing matches, instead of an empty searchset")
ORGANISATION_TELECOM_NOT_A_LIST = declare(
    "organisation-telecom-not-a-list", ["FND-FO-002a", "FND-FO-001a"], "foundations",
    "Organization.telecom is a single JSON object (as in the slot search example), not a list")
ORGANISATION_MISSING_VERSION = declare(
    "organisation-missing-version-id", ["GEN-RES-001a"], "foundations",
    "Organization.meta has the profile but no versionId (the ETag header is still sent)")
ORGANISATION_MISSING_ODS = declare(
    "organisation-missing-ods-identifier", ["FND-FO-002b"], "foundations",
    "Organization carries no ODS organisation code identifier")
ORGANISATION_MISSING_NAME = declare(
    "organisation-missing-name", ["FND-FO-002c"], "foundations",
    "Organization has no name")
ORGANISATION_INCLUDES_ENDPOINT = declare(
    "organisation-includes-endpoint", ["FND-FO-002d"], "foundations",
    "Organization carries an endpoint reference, which must not be populated")
READ_ORGANISATION_WRONG_ID = declare(
    "read-organisation-wrong-id", ["GEN-HTTP-003"], "foundations",
    "Read organisation returns the resource with the ODS code as its logical id")
READ_ORGANISATION_BUNDLE = declare(
    "read-organisation-returns-bundle", ["FND-RO-001a", "GEN-HTTP-003"], "foundations",
    "Read organisation answers with a searchset Bundle holding the Organization instead of the Organization itself")
READ_ORGANISATION_NO_ETAG = declare(
    "read-organisation-missing-etag", ["GEN-HTTP-002"], "foundations",
    "Read organisation answers without an ETag header")
READ_ORGANISATION_WRONG_404 = declare(
    "read-organisation-wrong-not-found-code", ["FND-RO-002", "ERR-005"], "foundations",
    "Read organisation of an unknown id answers 404 NO_RECORD_FOUND instead of ORGANISATION_NOT_FOUND")

# -- faults: Read a location ----------------------------------------------------------------------
READ_LOCATION_BUNDLE = declare(
    "read-location-returns-bundle", ["FND-RL-001a", "GEN-HTTP-003"], "foundations",
    "Read location answers with a searchset Bundle holding the Location instead of the Location itself")
LOCATION_ADDRESS_AS_LIST = declare(
    "location-address-as-list", ["FND-RL-001b"], "foundations",
    "Location.address is a JSON list (as in the published example); STU3 allows one Address")
LOCATION_MISSING_PROFILE = declare(
    "location-missing-profile", ["GEN-RES-001a"], "foundations",
    "Location.meta has a versionId but no profile")
LOCATION_MISSING_NAME = declare(
    "location-missing-name", ["FND-RL-001c"], "foundations",
    "Location has no name")
LOCATION_MISSING_MANAGING_ORG = declare(
    "location-missing-managing-org", ["FND-RL-001d"], "foundations",
    "Location has no managingOrganization")
LOCATION_OTHER_MANAGING_ORG = declare(
    "location-managed-by-other-org", ["FND-RL-001e"], "foundations",
    "a surgery's managingOrganization refers to another organisation the provider holds, not the practice")
LOCATION_INCLUDES_ENDPOINT = declare(
    "location-includes-endpoint", ["FND-RL-001f"], "foundations",
    "Location carries an endpoint reference, which must not be populated")
READ_LOCATION_NO_ETAG = declare(
    "read-location-missing-etag", ["GEN-HTTP-002"], "foundations",
    "Read location answers without an ETag header")
READ_LOCATION_WRONG_404 = declare(
    "read-location-wrong-not-found-code", ["FND-RL-002", "ERR-006"], "foundations",
    "Read location of an unknown id answers 404 REFERENCE_NOT_FOUND instead of NO_RECORD_FOUND")


# -- rendering -----------------------------------------------------------------------------------

def _meta(store: Store, kind: str, rid: str, profile: str, *, no_profile: bool = False,
          no_version: bool = False) -> dict[str, Any]:
    m: dict[str, Any] = {}
    if not no_version:
        m["versionId"] = store.version(kind, rid)
    if not no_profile:
        m["profile"] = [profile]
    return m


def _address(a: Address) -> dict[str, Any]:
    out: dict[str, Any] = {"use": a.use or "work"}
    if a.line:
        out["line"] = list(a.line)
    for key, value in (("city", a.city), ("district", a.district), ("postalCode", a.postal_code)):
        if value:
            out[key] = value
    return out


def _phone(number: str) -> dict[str, Any]:
    return {"system": "phone", "value": number, "use": "work"}


def _language(code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": HUMAN_LANGUAGE_SYSTEM, "code": code, "display": display}]}


def practitioner_resource(store: Store, p: Practitioner, faults: ActiveFaults) -> dict[str, Any]:
    """CareConnect-GPC-Practitioner-1, without the excluded elements (FND-FPR-002, FND-FPR-003)."""
    res: dict[str, Any] = {
        "resourceType": "Practitioner",
        "id": p.id,
        "meta": _meta(store, "Practitioner", p.id, profiles.PRACTITIONER,
                      no_profile=faults.on(PRACTITIONER_MISSING_PROFILE)),
    }
    languages = [_language(lang.code, lang.display) for lang in p.languages]
    if languages and not faults.on(PRACTITIONER_BASE_COMMUNICATION):
        res["extension"] = [{"url": NHS_COMMUNICATION, "extension": [{"url": "language", "valueCodeableConcept": c}]}
                            for c in languages]
    ids: list[dict[str, Any]] = []
    if not faults.on(PRACTITIONER_MISSING_SDS_IDENTIFIER):
        ids.append({"system": profiles.SDS_USER_SYSTEM, "value": p.sds_user_id})
    if not faults.on(PRACTITIONER_OMITS_ROLE_PROFILES):
        ids.extend({"system": profiles.SDS_ROLE_PROFILE_SYSTEM, "value": r} for r in p.role_profile_ids)
    if not p.role_profile_ids and faults.on(PRACTITIONER_EMPTY_ROLE_IDENTIFIER):
        ids.append({"system": profiles.SDS_ROLE_PROFILE_SYSTEM})
    res["identifier"] = ids
    name: dict[str, Any] = {"use": "usual", "family": p.family}
    if faults.on(PRACTITIONER_MISSING_FAMILY):
        name = {"use": "usual", "text": " ".join([*p.prefix, *p.given, p.family])}
    if p.given:
        name["given"] = list(p.given)
    if p.prefix:
        name["prefix"] = list(p.prefix)
    res["name"] = name if faults.on(PRACTITIONER_NAME_NOT_A_LIST) else [name]
    if p.gender:
        res["gender"] = p.gender
    if languages and faults.on(PRACTITIONER_BASE_COMMUNICATION):
        res["communication"] = languages
    if faults.on(PRACTITIONER_INCLUDES_TELECOM) and store.practice_organisation.telecom:
        res["telecom"] = [_phone(store.practice_organisation.telecom)]
    return res


def organisation_resource(store: Store, o: Organisation, faults: ActiveFaults) -> dict[str, Any]:
    """CareConnect-GPC-Organization-1, without contact and endpoint (FND-FO-002)."""
    res: dict[str, Any] = {
        "resourceType": "Organization",
        "id": o.id,
        "meta": _meta(store, "Organization", o.id, profiles.ORGANIZATION,
                      no_version=faults.on(ORGANISATION_MISSING_VERSION)),
    }
    if not faults.on(ORGANISATION_MISSING_ODS):
        res["identifier"] = [{"system": profiles.ODS_ORG_SYSTEM, "value": o.ods_code}]
    if o.type:
        res["type"] = [{"coding": [{"system": ORGANISATION_TYPE_SYSTEM, "code": o.type}]}]
    if not faults.on(ORGANISATION_MISSING_NAME):
        res["name"] = o.name
    if o.telecom:
        phone = _phone(o.telecom)
        res["telecom"] = phone if faults.on(ORGANISATION_TELECOM_NOT_A_LIST) else [phone]
    if o.address:
        res["address"] = [_address(o.address)]
    if faults.on(ORGANISATION_INCLUDES_ENDPOINT):
        res["endpoint"] = [{"reference": "Endpoint/1"}]
    return res


def location_resource(store: Store, loc: Location, faults: ActiveFaults) -> dict[str, Any]:
    """CareConnect-GPC-Location-1 with its managing organisation, without endpoint (FND-RL-001)."""
    res: dict[str, Any] = {
        "resourceType": "Location",
        "id": loc.id,
        "meta": _meta(store, "Location", loc.id, profiles.LOCATION, no_profile=faults.on(LOCATION_MISSING_PROFILE)),
    }
    if not faults.on(LOCATION_MISSING_NAME):
        res["name"] = loc.name
    if loc.telecom:
        res["telecom"] = [_phone(loc.telecom)]
    if loc.address:
        address = _address(loc.address)
        res["address"] = [address] if faults.on(LOCATION_ADDRESS_AS_LIST) else address
    managing = loc.organisation
    if faults.on(LOCATION_OTHER_MANAGING_ORG):
        managing = next((o for o in store.organisations if o != loc.organisation), managing)
    if not faults.on(LOCATION_MISSING_MANAGING_ORG):
        res["managingOrganization"] = {"reference": f"Organization/{managing}"}
    if faults.on(LOCATION_INCLUDES_ENDPOINT):
        res["endpoint"] = [{"reference": "Endpoint/1"}]
    return res


# -- the Find identifier parameter -----------------------------------------------------------------

def search_identifier(ctx: Context, system: str) -> str | None:
    """The value of the one `identifier` parameter, which must use `system`; None means list everything
    (only under a fault). Errors follow the readings in the module docstring."""
    faults = ctx.faults
    if faults.on(FIND_IDENTIFIER_NAME_ANY_CASE):
        given = [v for k, v in ctx.query if k.lower() == "identifier"]
    else:
        given = ctx.params("identifier")
    if not given:
        if faults.on(FIND_WITHOUT_IDENTIFIER_LISTS_ALL):
            return None
        raise bad_request("the 'identifier' search parameter is required (parameter names are case sensitive)")
    if len(given) > 1 and not faults.on(FIND_USES_FIRST_IDENTIFIER):
        raise bad_request("the 'identifier' search parameter may be given only once")
    given_system, sep, value = given[0].partition("|")
    if not sep:
        raise invalid_parameter(f"identifier must be of the form {system}|<value>")
    if not given_system and not faults.on(FIND_ACCEPTS_BLANK_SYSTEM):
        raise invalid_parameter(f"identifier has no system; expected {system}")
    if given_system and given_system != system and not faults.on(FIND_ACCEPTS_UNKNOWN_SYSTEM):
        raise ProviderError(400, "INVALID_IDENTIFIER_SYSTEM", "value",
                            f"identifier system {given_system!r} is not supported here; use {system}")
    if not value.strip() and not faults.on(FIND_ACCEPTS_EMPTY_VALUE):
        raise invalid_parameter("identifier has no value")
    return value


def _read_reply(ctx: Context, kind: str, rid: str, resource: dict[str, Any], no_etag_fault: str,
                bundle_fault: str) -> Reply:
    # The ETag comes from the store's version, not from the rendered meta, so a meta fault stays one fault.
    headers = {} if ctx.faults.on(no_etag_fault) else {"ETag": f'W/"{ctx.store.version(kind, rid)}"'}
    body = searchset([resource]) if ctx.faults.on(bundle_fault) else resource
    return Reply(200, body, headers)


# -- handlers --------------------------------------------------------------------------------------

@handles("practitioner.find")
def find_practitioner(ctx: Context) -> Reply:
    value = search_identifier(ctx, profiles.SDS_USER_SYSTEM)
    everyone = value is None or ctx.faults.on(FIND_PRACTITIONER_IGNORES_IDENTIFIER)
    found = [p for p in ctx.store.practitioners.values() if everyone or p.sds_user_id == value]
    if not found and ctx.faults.on(FIND_PRACTITIONER_UNKNOWN_NOT_FOUND):
        raise not_found("PRACTITIONER_NOT_FOUND", f"no practitioner with SDS user id {value}")
    bundle = searchset([practitioner_resource(ctx.store, p, ctx.faults) for p in found])
    if ctx.faults.on(FIND_PRACTITIONER_NOT_SEARCHSET):
        bundle["type"] = "collection"
    return Reply(200, bundle)


@handles("practitioner.read")
def read_practitioner(ctx: Context) -> Reply:
    rid = ctx.path_params["id"]
    p = ctx.store.practitioners.get(rid)
    if p is None:
        code = "NO_RECORD_FOUND" if ctx.faults.on(READ_PRACTITIONER_WRONG_404) else "PRACTITIONER_NOT_FOUND"
        raise not_found(code, f"no practitioner with logical id {rid}")
    res = practitioner_resource(ctx.store, p, ctx.faults)
    if ctx.faults.on(READ_PRACTITIONER_WRONG_ID):
        res["id"] = p.sds_user_id
    return _read_reply(ctx, "Practitioner", rid, res, READ_PRACTITIONER_NO_ETAG, READ_PRACTITIONER_BUNDLE)


@handles("organization.find")
def find_organisation(ctx: Context) -> Reply:
    value = search_identifier(ctx, profiles.ODS_ORG_SYSTEM)
    everyone = value is None or ctx.faults.on(FIND_ORGANISATION_IGNORES_IDENTIFIER)
    found = [o for o in ctx.store.organisations.values() if everyone or o.ods_code == value]
    if not found and ctx.faults.on(FIND_ORGANISATION_UNKNOWN_NOT_FOUND):
        raise not_found("ORGANISATION_NOT_FOUND", f"no organisation with ODS code {value}")
    resources = [organisation_resource(ctx.store, o, ctx.faults) for o in found]
    if len(resources) == 1 and ctx.faults.on(FIND_ORGANISATION_BARE):
        return Reply(200, resources[0])
    return Reply(200, searchset(resources))


@handles("organization.read")
def read_organisation(ctx: Context) -> Reply:
    rid = ctx.path_params["id"]
    o = ctx.store.organisations.get(rid)
    if o is None:
        code = "NO_RECORD_FOUND" if ctx.faults.on(READ_ORGANISATION_WRONG_404) else "ORGANISATION_NOT_FOUND"
        raise not_found(code, f"no organisation with logical id {rid}")
    res = organisation_resource(ctx.store, o, ctx.faults)
    if ctx.faults.on(READ_ORGANISATION_WRONG_ID):
        res["id"] = o.ods_code
    return _read_reply(ctx, "Organization", rid, res, READ_ORGANISATION_NO_ETAG, READ_ORGANISATION_BUNDLE)


@handles("location.read")
def read_location(ctx: Context) -> Reply:
    rid = ctx.path_params["id"]
    loc = ctx.store.locations.get(rid)
    if loc is None:
        # ERR-006 / D-09: no page names a Location code, so the catch-all.
        code = "REFERENCE_NOT_FOUND" if ctx.faults.on(READ_LOCATION_WRONG_404) else "NO_RECORD_FOUND"
        raise not_found(code, f"no location with logical id {rid}")
    res = location_resource(ctx.store, loc, ctx.faults)
    return _read_reply(ctx, "Location", rid, res, READ_LOCATION_NO_ETAG, READ_LOCATION_BUNDLE)
