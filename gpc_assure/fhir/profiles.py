"""GP Connect profile canonical URLs and identifier systems (facts from the 1.2.7 specification)."""

from __future__ import annotations

SD = "https://fhir.nhs.uk/STU3/StructureDefinition/"

PATIENT = SD + "CareConnect-GPC-Patient-1"
PRACTITIONER = SD + "CareConnect-GPC-Practitioner-1"
ORGANIZATION = SD + "CareConnect-GPC-Organization-1"
LOCATION = SD + "CareConnect-GPC-Location-1"
PRACTITIONER_ROLE = SD + "CareConnect-GPC-PractitionerRole-1"
OPERATION_OUTCOME = SD + "GPConnect-OperationOutcome-1"
SEARCHSET_BUNDLE = SD + "GPConnect-Searchset-Bundle-1"
APPOINTMENT = SD + "GPConnect-Appointment-1"
SCHEDULE = SD + "GPConnect-Schedule-1"
SLOT = SD + "GPConnect-Slot-1"

EXT_REGISTRATION_DETAILS = SD + "Extension-CareConnect-GPC-RegistrationDetails-1"
EXT_NHS_COMMUNICATION = SD + "Extension-CareConnect-GPC-NHSCommunication-1"
EXT_NHS_NUMBER_VERIFICATION = SD + "Extension-CareConnect-GPC-NHSNumberVerificationStatus-1"
EXT_ETHNIC_CATEGORY = SD + "Extension-CareConnect-GPC-EthnicCategory-1"
EXT_RELIGIOUS_AFFILIATION = SD + "Extension-CareConnect-GPC-ReligiousAffiliation-1"
EXT_RESIDENTIAL_STATUS = SD + "Extension-CareConnect-GPC-ResidentialStatus-1"
EXT_TREATMENT_CATEGORY = SD + "Extension-CareConnect-GPC-TreatmentCategory-1"
EXT_CADAVERIC_DONOR = "http://hl7.org/fhir/StructureDefinition/patient-cadavericDonor"
EXT_BIRTH_PLACE = "http://hl7.org/fhir/StructureDefinition/birthPlace"

REGISTER_PATIENT_OPERATION = "https://fhir.nhs.uk/STU3/OperationDefinition/GPConnect-RegisterPatient-Operation-1"

NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
SDS_USER_SYSTEM = "https://fhir.nhs.uk/Id/sds-user-id"
SDS_ROLE_PROFILE_SYSTEM = "https://fhir.nhs.uk/Id/sds-role-profile-id"
ODS_ORG_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"
ODS_SITE_SYSTEM = "https://fhir.nhs.uk/Id/ods-site-code"
REGISTRATION_TYPE_SYSTEM = "https://fhir.nhs.uk/CareConnect-RegistrationType-1"
NHS_NUMBER_VERIFICATION_SYSTEM = "https://fhir.nhs.uk/CareConnect-NHSNumberVerificationStatus-1"

# The 15 profiles the 1.2.7 CapabilityStatement example lists (FND-CAP-008).
CAPABILITY_PROFILES = [
    PATIENT, ORGANIZATION, PRACTITIONER, PRACTITIONER_ROLE, LOCATION, OPERATION_OUTCOME, APPOINTMENT,
    SCHEDULE, SLOT,
    SD + "CareConnect-GPC-AllergyIntolerance-1",
    SD + "CareConnect-GPC-Medication-1",
    SD + "CareConnect-GPC-MedicationStatement-1",
    SD + "CareConnect-GPC-MedicationRequest-1",
    SD + "CareConnect-GPC-List-1",
    SD + "GPConnect-StructuredRecord-Bundle-1",
]

# Patient elements Find/Read/Register must not populate (FND-FP-011): (element, extension url or None).
PATIENT_EXCLUDED_ELEMENTS = ["maritalStatus", "multipleBirthBoolean", "multipleBirthInteger"]
PATIENT_EXCLUDED_EXTENSIONS = {
    EXT_ETHNIC_CATEGORY: "ethnicCategory",
    EXT_RELIGIOUS_AFFILIATION: "religiousAffiliation",
    EXT_CADAVERIC_DONOR: "patient-cadavericDonor",
    EXT_RESIDENTIAL_STATUS: "residentialStatus",
    EXT_TREATMENT_CATEGORY: "treatmentCategory",
    EXT_BIRTH_PLACE: "birthPlace",
}
