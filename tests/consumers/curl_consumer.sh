#!/usr/bin/env bash
# A GP Connect consumer written with curl and nothing of gpc-assure: the proof that a consumer nobody here
# wrote can be driven and judged. It performs the Foundations steps (find a patient and read them;
# register a patient the practice does not hold) and ignores the rest.
#
#   curl_consumer.sh VARIANT STEP      (gpc-assure exports GPC_BASE_URL, GPC_NHS_NUMBER, ... for each step)
#
# VARIANT "ok" follows the rules; "reuse-trace-id" sends one Ssp-TraceID on every request; "no-token" sends no
# Authorization header at all (otherwise it follows the rules: a degenerate consumer of tests/soundness_consumer.py).
# Its identity is the reference pack's consumer (the target file's [consumer] section says the same).
set -u
variant=$1
step=$2

ASID=200000000359
ODS=B82617
ENDPOINT=https://consumer.gpc-assure.invalid/fhir
FHIR=application/fhir+json
FIXED_TRACE=$(cat /proc/sys/kernel/random/uuid)

b64url() { base64 -w0 | tr '+/' '-_' | tr -d '='; }

token() {  # a new unsecured JWT for one request; $1 = requested_scope
  local iat exp payload
  iat=$(date +%s); exp=$((iat + 300))
  payload=$(printf '{"iss":"%s","sub":"1","aud":"%s","exp":%d,"iat":%d,"reason_for_request":"directcare","requested_scope":"%s","requesting_device":{"resourceType":"Device","identifier":[{"system":"https://consumer.gpc-assure.invalid/Id/device","value":"curl-consumer"}],"model":"curl","version":"1"},"requesting_organization":{"resourceType":"Organization","identifier":[{"system":"https://fhir.nhs.uk/Id/ods-organization-code","value":"%s"}],"name":"gpc-assure Consumer Test Organisation"},"requesting_practitioner":{"resourceType":"Practitioner","id":"1","identifier":[{"system":"https://fhir.nhs.uk/Id/sds-user-id","value":"G13579135"},{"system":"https://fhir.nhs.uk/Id/sds-role-profile-id","value":"200000000160"}],"name":[{"family":"Assurance","given":["Alex"],"prefix":["Dr"]}]}}' \
    "$ENDPOINT" "$GPC_BASE_URL" "$exp" "$iat" "$1" "$ODS")
  printf '%s.%s.' "$(printf '{"alg":"none","typ":"JWT"}' | b64url)" "$(printf '%s' "$payload" | b64url)"
}

trace() {
  if [ "$variant" = reuse-trace-id ]; then echo "$FIXED_TRACE"; else cat /proc/sys/kernel/random/uuid; fi
}

gpc() {  # gpc INTERACTION SCOPE curl-arguments...
  local interaction=$1 scope=$2 auth; shift 2
  if [ "$variant" = no-token ]; then auth=(); else auth=(-H "Authorization: Bearer $(token "$scope")"); fi
  curl -s --max-time 10 -H "Ssp-TraceID: $(trace)" -H "Ssp-From: $ASID" -H "Ssp-To: $GPC_PROVIDER_ASID" \
    -H "Ssp-InteractionID: urn:nhs:names:services:gpconnect:fhir:$interaction" \
    "${auth[@]}" -H "Accept: $FHIR" "$@"
}

find_patient_id() {  # prints the logical id of the first Patient the find returns (nothing if none)
  gpc rest:search:patient-1 'patient/*.read' -G "$GPC_BASE_URL/Patient" \
    --data-urlencode "identifier=https://fhir.nhs.uk/Id/nhs-number|$GPC_NHS_NUMBER" \
    | grep -o '"resourceType": *"Patient", *"id": *"[^"]*"' | head -1 | sed 's/.*"id": *"\([^"]*\)"/\1/'
}

case "$step" in
  find-patient)
    gpc rest:read:metadata-1 'organization/*.read' "$GPC_BASE_URL/metadata" > /dev/null
    id=$(find_patient_id)
    [ -n "$id" ] && gpc rest:read:patient-1 'patient/*.read' "$GPC_BASE_URL/Patient/$id" > /dev/null
    echo "found patient ${id:-none}"
    ;;
  register-patient)
    id=$(find_patient_id)
    if [ -z "$id" ]; then
      body=$(printf '{"resourceType":"Parameters","parameter":[{"name":"registerPatient","resource":{"resourceType":"Patient","meta":{"profile":["https://fhir.nhs.uk/STU3/StructureDefinition/CareConnect-GPC-Patient-1"]},"identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"%s"}],"name":[{"use":"official","family":"%s","given":["%s"]}],"gender":"%s","birthDate":"%s"}}]}' \
        "$GPC_NHS_NUMBER" "$GPC_FAMILY" "$GPC_GIVEN" "$GPC_GENDER" "$GPC_BIRTH_DATE")
      gpc operation:gpc.registerpatient-1 'patient/*.write' -X POST -H "Content-Type: $FHIR;charset=utf-8" \
        --data-binary "$body" "$GPC_BASE_URL/Patient/\$gpc.registerpatient" > /dev/null
      echo "registered $GPC_NHS_NUMBER"
    fi
    ;;
  *)
    echo "curl consumer: no step $step"
    ;;
esac
exit 0
