"""Terminology the checks need: Spine error codes and their displays, GP Connect code systems.

Facts taken from the Spine-ErrorOrWarningCode-1 CodeSystem (v1.5.0) and the GP Connect pages;
written out here so the product does not depend on the official files at run time.
"""

SPINE_ERROR_SYSTEM = "https://fhir.nhs.uk/STU3/ValueSet/Spine-ErrorOrWarningCode-1"
# The CodeSystem canonical; the GP Connect error page tells providers to use the ValueSet URL above.
SPINE_ERROR_CODESYSTEM = "https://fhir.nhs.uk/STU3/CodeSystem/Spine-ErrorOrWarningCode-1"

SPINE_ERROR_DISPLAY: dict[str, str] = {
    "NO_RECORD_FOUND": "No record found",
    "PATIENT_NOT_FOUND": "Patient not found",
    "INVALID_NHS_NUMBER": "Invalid NHS number",
    "INVALID_CODE_SYSTEM": "Invalid code system",
    "INVALID_CODE_VALUE": "Invalid code value",
    "INVALID_VALUE": "An input field has an invalid value for its type",
    "INVALID_IDENTIFIER_SYSTEM": "Invalid identifier system",
    "INVALID_IDENTIFIER_VALUE": "Invalid identifier value",
    "CONFLICTING_VALUES": "Conflicting values have been specified in different fields",
    "INVALID_ELEMENT": "Invalid element",
    "AUTHOR_CREDENTIALS_ERROR": "Author credentials error",
    "INVALID_PARAMETER": "Invalid parameter",
    "REQUEST_UNMATCHED": "Request does not match authorisation token",
    "MESSAGE_NOT_WELL_FORMED": "Message not well formed",
    "NO_PATIENT_CONSENT": "Patient has not provided consent to share data",
    "NO_ORGANISATIONAL_CONSENT": "Organisation has not provided consent to share data",
    "BAD_REQUEST": "Bad request",
    "INVALID_RESOURCE": "Invalid validation of resource",
    "ORGANISATION_NOT_FOUND": "Organisation not found",
    "PRACTITIONER_NOT_FOUND": "Practitioner not found",
    "PATIENT_SENSITIVE": "Patient sensitive",
    "NO_RELATIONSHIP": "No legitimate relationship exists with this patient",
    "FHIR_CONSTRAINT_VIOLATION": "FHIR constraint violated",
    "FLAG_ALREADY_SET": "Flag value was already set",
    "INVALID_REQUEST_STATE": "The request exists but is not in an appropriate state for the call to succeed",
    "INVALID_REQUEST_TYPE": "The type of request is not supported by the API call",
    "ACCESS DENIED": "Access has been denied to process this request",
    "ASID_CHECK_FAILED": "The sender or receiver's ASID is not authorised for this interaction",
    "MISSING_OR_INVALID_HEADER": "There is a required header missing or invalid",
    "ACCESS_DENIED_SSL": "SSL Protocol or Cipher requirements not met",
    "MSG_RESOURCE_ID_FAIL": "Client is not permitted to assign an id",
    "DUPLICATE_REJECTED": "Create would lead to creation of a duplicate resource",
    "RESOURCE_CREATED": "New resource created",
    "RESOURCE_DELETED": "Resource removed",
    "RESOURCE_UPDATED": "Resource has been successfully updated",
    "INVALID_REQUEST_MESSAGE": "Invalid request message",
    "INTERNAL_SERVER_ERROR": "Unexpected internal server error",
    "INVALID_PATIENT_DEMOGRAPHICS": "Invalid patient demographics",
    "NOT_IMPLEMENTED": "Not implemented",
    "REFERENCE_NOT_FOUND": "Reference not found",
    "DEPRECATED": "Event message type has been deprecated",
    "NO_LONGER_SUPPORTED": "Event message type is no longer supported",
    "WITHDRAWN": "Event message type has been withdrawn",
}

# STU3 IssueType codes (http://hl7.org/fhir/issue-type).
ISSUE_TYPES = frozenset({
    "invalid", "structure", "required", "value", "invariant", "security", "login", "unknown", "expired",
    "forbidden", "suppressed", "processing", "not-supported", "duplicate", "not-found", "too-long",
    "code-invalid", "extension", "too-costly", "business-rule", "conflict", "incomplete", "transient",
    "lock-error", "no-store", "exception", "timeout", "throttled", "informational",
})
