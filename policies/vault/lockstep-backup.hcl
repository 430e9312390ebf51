# lockstep-backup: what `lockstep backup create` needs, and nothing more: list and read every
# secret of a KV tree, with metadata (for --all-versions). No write, delete or destroy.
# Replace `secret` with your mount (one block pair per mount backed up).

path "secret/metadata/*" {
  capabilities = ["list", "read"]
}
path "secret/data/*" {
  capabilities = ["read"]
}

# KV v1 mounts have no data/ and metadata/ segments; for a v1 mount at kv1/:
# path "kv1/*" {
#   capabilities = ["list", "read"]
# }

# Lockstep asks which mount (and KV version) a path is on.
path "sys/internal/ui/mounts/*" {
  capabilities = ["read"]
}

# Only with a Transit recipient (vault-transit:transit/backup): wrap the file key.
# path "transit/encrypt/backup" {
#   capabilities = ["update"]
# }
