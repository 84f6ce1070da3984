#!/usr/bin/env bash
# The owner's walk-through of the README ("From login to a provisioned
# member"), step by step with curl against a running `rollcall serve`:
# log in as the owner, enable SCIM with a default role, generate a SCIM
# token, provision a test user as Entra ID does, see it as a member with the
# default role and its locks, de-provision it, log out.
#
#   OWNER_PASSWORD=... scripts/walkthrough.sh
#
# Environment: OWNER_PASSWORD (required: the password `serve` printed on its
# first start), OWNER_EMAIL (owner@example.com), URL (http://127.0.0.1:8080).
# Needs curl and jq. Each run uses a fresh test user; the SCIM token it
# issues is revoked at the end (at most two are live), so it can run again.
set -euo pipefail

URL=${URL:-http://127.0.0.1:8080}
OWNER_EMAIL=${OWNER_EMAIL:-owner@example.com}
: "${OWNER_PASSWORD:?set OWNER_PASSWORD to the owner password rollcall serve printed on its first start}"
for tool in curl jq; do
    command -v "$tool" >/dev/null || { echo "walkthrough.sh: $tool is required" >&2; exit 2; }
done
API=$URL/api/v1
JSON='content-type: application/json'

step() { printf '\n==> %s\n' "$*"; }
# Fails the script with the answer when the status is not the expected one
# (`201|409`: either).
call() {
    local expected=$1; shift
    local answer status
    answer=$(curl -sS -w '\n%{http_code}' "$@")
    status=${answer##*$'\n'}
    answer=${answer%$'\n'*}
    if ! [[ $status =~ ^($expected)$ ]]; then
        echo "walkthrough.sh: expected $expected, got $status: $answer" >&2
        exit 1
    fi
    printf '%s' "$answer"
}

step "1. Log in as the owner"
SESSION=$(call 201 -X POST "$API/sessions" -H "$JSON" \
    -d "{\"email\":\"$OWNER_EMAIL\",\"password\":\"$OWNER_PASSWORD\"}" | jq -r .token)
AUTH="Authorization: Bearer $SESSION"
ORG=$(call 200 "$API/account" -H "$AUTH" \
    | jq -r '[.memberships[] | select(.role == "owner" and .state == "active")][0].org_id')
echo "session ${SESSION:0:12}..., organization $ORG"

step "2. Enable SCIM and pick the default role new users get"
# 409 when an earlier run added it.
call '201|409' -X POST "$API/orgs/$ORG/roles" -H "$AUTH" -H "$JSON" -d '{"role":"engineer"}' >/dev/null
SETTINGS=$(call 200 -X PUT "$API/orgs/$ORG/provisioning" -H "$AUTH" -H "$JSON" \
    -d '{"scim_enabled":true,"default_role":"engineer"}')
echo "$SETTINGS"
TENANT_URL=$(jq -r .tenant_url <<<"$SETTINGS")

step "3. Generate the SCIM token (shown this once, valid one year)"
ISSUED=$(call 201 -X POST "$API/orgs/$ORG/provisioning/tokens" -H "$AUTH" -H "$JSON" -d '{}')
SCIM_TOKEN=$(jq -r .token <<<"$ISSUED")
TOKEN_ID=$(jq -r .id <<<"$ISSUED")
echo "token ${SCIM_TOKEN:0:8}... expires $(jq -r .expires_at <<<"$ISSUED")"
echo "In Entra: Tenant URL $TENANT_URL, Secret Token the one above."

step "4. Entra's Test Connection"
SCIM=(-H "Authorization: Bearer $SCIM_TOKEN")
call 200 -G "$TENANT_URL/Users" "${SCIM[@]}" \
    --data-urlencode 'filter=userName eq "test-connection-probe"' | jq -c .

step "5. Entra provisions a test user"
NICK="walk$(date +%s)"
EMAIL="$NICK@contoso.test"
USER=$(call 201 -X POST "$TENANT_URL/Users" "${SCIM[@]}" -H 'content-type: application/scim+json' -d "{
  \"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:User\"],
  \"externalId\": \"$NICK\",
  \"userName\": \"$EMAIL\",
  \"active\": true,
  \"displayName\": \"Walk Through\",
  \"name\": {\"givenName\": \"Walk\", \"familyName\": \"Through\"},
  \"emails\": [{\"primary\": true, \"type\": \"work\", \"value\": \"$EMAIL\"}]
}")
USER_ID=$(jq -r .id <<<"$USER")
echo "created $USER_ID ($EMAIL)"

# The member appears within a moment (the linker follows the log).
member() {
    local wanted=$1 found
    for _ in $(seq 50); do
        found=$(call 200 "$API/orgs/$ORG/members" -H "$AUTH" \
            | jq -c --arg email "$EMAIL" '.[] | select(.email == $email)')
        if [[ -n $found ]] && jq -e "$wanted" <<<"$found" >/dev/null; then
            echo "$found"
            return
        fi
        sleep 0.2
    done
    echo "walkthrough.sh: the member never became $wanted: ${found:-absent}" >&2
    exit 1
}

step "6. The test user is a member with the default role and its locks"
member '.state == "active" and .role == "engineer" and .scim_managed and .locks == ["leave"]'

step "7. Entra de-provisions it (soft delete: active false), then deletes it"
call 200 -X PATCH "$TENANT_URL/Users/$USER_ID" "${SCIM[@]}" -H 'content-type: application/scim+json' \
    -d '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"active","value":"False"}]}' \
    >/dev/null
member '.state == "suspended"'
call 204 -X DELETE "$TENANT_URL/Users/$USER_ID" "${SCIM[@]}" >/dev/null
member '.state == "removed" and .locks == []'

step "8. Clean up: revoke the walk-through's token, log out"
call 204 -X DELETE "$API/orgs/$ORG/provisioning/tokens/$TOKEN_ID" -H "$AUTH" >/dev/null
call 204 -X DELETE "$API/sessions/current" -H "$AUTH" >/dev/null
echo "done"
