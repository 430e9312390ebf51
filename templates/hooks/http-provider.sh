#!/bin/sh
# Example Lockstep hook (an example to adapt, not a supported integration): tell an HTTP
# provider the new value of an API token, the old one authenticating the change.
#
# Policy (docs/rotation.md, "Hooks"):
#   targets:
#     hooks:
#       - name: provider
#         run: ./templates/hooks/http-provider.sh
#         args: [https://api.example.com/v1/tokens/aura]   # where the token is set (PUT)
#         keys: [PROVIDER_TOKEN]                           # a rotated key of the policy
#         send_old: true                                   # the old token authorises the change
#         timeout: 30s
#
# The contract: Lockstep writes one JSON document on stdin (fields in docs/rotation.md):
#   {"lockstep_hook":1,"action":"apply","attempt":1,"resumed":false,
#    "keys":{"PROVIDER_TOKEN":{"new":"…","old":"…"}},"context":{},…}
# Exit 0 when the provider accepts the new value (and, for strategy single, refuses the old
# one); print one line of summary without any value (Lockstep withholds a line that echoes
# one). The hook must be idempotent: on `rotate resume` it is called again with the same
# new value ("resumed": true), possibly after the provider already took it.
#
# Values never reach an argument or a variable of another process: python3 turns the
# document into the provider's body and the headers into a file of curl's own, and curl
# reads both from its stdin and that file (`--data-binary @-`, `-H @file`; curl >= 7.55).
set -eu
url=${1:?usage: http-provider.sh URL}
umask 077
headers=$(mktemp)
trap 'rm -f "$headers"' EXIT

# The body on stdout (to curl's stdin); the Authorization header (the old token, or the new
# one on a resumed call, which the provider already accepts) into the header file.
python3 -c '
import json, sys
doc = json.load(sys.stdin)
[(key, values)] = list(doc["keys"].items())
auth = values["new"] if doc["resumed"] else values.get("old", values["new"])
with open(sys.argv[1], "w") as f:
    f.write("Authorization: Bearer " + auth + "\n")
json.dump({"token": values["new"], "previous": values.get("old")}, sys.stdout)
' "$headers" |
  curl --fail --silent --show-error --max-time 20 -X PUT \
    -H 'Content-Type: application/json' -H @"$headers" --data-binary @- \
    --output /dev/null --write-out '%{http_code}' "$url" > "$headers.status" || {
  echo "the provider refused the new token (HTTP $(cat "$headers.status" 2>/dev/null || echo '?'))"
  rm -f "$headers.status"
  exit 1
}
echo "provider accepted the new token (HTTP $(cat "$headers.status"))"
rm -f "$headers.status"
