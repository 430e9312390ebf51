#!/bin/sh
# Example Lockstep hook (an example to adapt, not a supported integration): set a new secret
# key on a MinIO service account (access key) with the MinIO client `mc`.
#
# Policy (docs/rotation.md, "Hooks"):
#   targets:
#     hooks:
#       - name: minio
#         run: ./templates/hooks/minio-service-account.sh
#         args: [aura-minio]                  # the mc alias of the deployment (admin rights)
#         keys: [MINIO_SECRET_KEY]            # rotated: { password: 40 } is a valid secret key
#         context_keys: [MINIO_ACCESS_KEY]    # which service account
#         pass_env: [MC_CONFIG_DIR]           # where mc finds the alias's admin credentials
#         timeout: 60s
#
# Idempotent: `svcacct edit` with the value already set succeeds again, so a resumed call
# ("resumed": true) does the same thing.
#
# CAVEAT, read before use: `mc admin user svcacct edit` (and `mc admin accesskey edit`)
# take the secret key only as a command-line flag, so while mc runs the new value is in its
# argv, which any user of the host running the hook can read in /proc. Lockstep itself never
# does this (the value reaches this script on stdin); run this example only on a host no
# one else uses, or call MinIO's admin API from a program that keeps the value in memory
# (see http-provider.sh for the stdin-only pattern).
set -eu
alias=${1:?usage: minio-service-account.sh MC-ALIAS}
command -v mc >/dev/null || { echo "mc (the MinIO client) is not installed"; exit 1; }

# Read the document once; keep the values in shell variables only (not exported).
doc=$(cat)
access_key=$(printf '%s' "$doc" | python3 -c 'import json,sys; print(json.load(sys.stdin)["context"]["MINIO_ACCESS_KEY"])')
secret_key=$(printf '%s' "$doc" | python3 -c 'import json,sys; print(json.load(sys.stdin)["keys"]["MINIO_SECRET_KEY"]["new"])')
unset doc

if mc admin user svcacct edit --secret-key "$secret_key" "$alias" "$access_key" >/dev/null 2>&1; then
  echo "minio service account $access_key has a new secret key"
else
  echo "mc could not set the secret key of service account $access_key on $alias"
  exit 1
fi
