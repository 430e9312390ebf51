# lockstep-walk: list and read every secret of a KV tree (backup create, drift, vault walk).
# Replace `secret` with your mount. Grants no write of any kind.

# KV v2: list keys and read metadata, read values.
path "secret/metadata/*" {
  capabilities = ["list", "read"]
}
path "secret/data/*" {
  capabilities = ["read"]
}

# KV v1 mounts have no data/ and metadata/ segments; uncomment for a v1 mount at kv1/.
# path "kv1/*" {
#   capabilities = ["list", "read"]
# }

# Lockstep asks which mount (and KV version) a path is on.
path "sys/internal/ui/mounts/*" {
  capabilities = ["read"]
}
