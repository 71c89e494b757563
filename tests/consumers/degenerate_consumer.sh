#!/usr/bin/env bash
# Degenerate consumers for the soundness self-test (tests/soundness_consumer.py): programs that are driven
# like any consumer under test but never do what a step asks. None of them may meet anything beyond
# tests/soundness_allowlist.toml, and none may pass the gate.
#
#   degenerate_consumer.sh VARIANT STEP      (gpc-assure exports GPC_BASE_URL, GPC_PROVIDER_ASID, ... per step)
#
# VARIANT
#   fixed-request  for every step, the same two requests: a correct-looking GET /metadata (SSP headers and
#                  a fresh token) and one garbage request (issue #11: this consumer used to pass the gate)
#   garbage        for every step, requests that are not GP Connect at all: no SSP headers, no token, a
#                  path that names no interaction, a body that is not JSON
set -u
variant=$1
step=$2

ASID=200000000359
ODS=B82617
ENDPOINT=https://consumer.gpc-assure.invalid/fhir

b64url() { base64 -w0 | tr '+/' '-_' | tr -d '='; }

token() {  # a new unsecured JWT for one request; $1 = requested_scope
  local iat exp payload
  iat=$(date +%s); exp=$((iat + 300))
  payload=$(printf '{"iss":"%s","sub":"1","aud":"%s","exp":%d,"iat":%d,"reason_for_request":"directcare","requested_scope":"%s","requesting_device":{"resourceType":"Device","identifier":[{"system":"https://consumer.gpc-assure.invalid/Id/device","value":"degenerate-consumer"}],"model":"curl","version":"1"},"requesting_organization":{"resourceType":"Organization","identifier":[{"system":"https://fhir.nhs.uk/Id/ods-organization-code","value":"%s"}],"name":"gpc-assure Consumer Test Organisation"},"requesting_practitioner":{"resourceType":"Practitioner","id":"1","identifier":[{"system":"https://fhir.nhs.uk/Id/sds-user-id","value":"G13579135"},{"system":"https://fhir.nhs.uk/Id/sds-role-profile-id","value":"200000000160"}],"name":[{"family":"Assurance","given":["Alex"],"prefix":["Dr"]}]}}' \
    "$ENDPOINT" "$GPC_BASE_URL" "$exp" "$iat" "$1" "$ODS")
  printf '%s.%s.' "$(printf '{"alg":"none","typ":"JWT"}' | b64url)" "$(printf '%s' "$payload" | b64url)"
}

garbage() {
  curl -s --max-time 5 -o /dev/null "$GPC_BASE_URL/zz-$RANDOM?q=%00%ff" || true
  head -c 64 /dev/urandom | curl -s --max-time 5 -o /dev/null -X POST -H "Content-Type: application/octet-stream" \
    --data-binary @- "$GPC_BASE_URL/" || true
}

case "$variant" in
  fixed-request)
    curl -s --max-time 5 -o /dev/null -H "Ssp-TraceID: $(cat /proc/sys/kernel/random/uuid)" -H "Ssp-From: $ASID" \
      -H "Ssp-To: $GPC_PROVIDER_ASID" -H "Ssp-InteractionID: urn:nhs:names:services:gpconnect:fhir:rest:read:metadata-1" \
      -H "Authorization: Bearer $(token 'organization/*.read')" -H "Accept: application/fhir+json" \
      "$GPC_BASE_URL/metadata" || true
    garbage
    ;;
  garbage)
    garbage
    ;;
  *)
    echo "degenerate consumer: no variant $variant" >&2
    exit 2
    ;;
esac
echo "step $step: did not do what it asks"
exit 0
