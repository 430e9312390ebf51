# lockstep-rotate: what `lockstep rotate run|resume|status|plan|confirm` needs for
# policies/rotation/aura-sign.yaml, and nothing more. For another policy, replace the four
# paths (live secret, staging, lock, pending) with its own; the KV v2 API paths insert data/ and
# metadata/ after the mount.

# The live secret: read version N, write N+1 with check-and-set.
path "secret/data/aura/production" {
  capabilities = ["read", "update"]
}

# The staging copy of the new values: created with cas=0, read on resume, and destroyed
# (every version and the metadata) when the rotation finishes.
path "secret/data/lockstep/staging/aura/production" {
  capabilities = ["create", "read", "update"]
}
path "secret/metadata/lockstep/staging/aura/production" {
  capabilities = ["delete"]
}

# The rotation lock, which is also the journal of record: created with cas=0, updated
# with CAS after every step, deleted at the end.
path "secret/data/lockstep/locks/aura/production" {
  capabilities = ["create", "read", "update"]
}
path "secret/metadata/lockstep/locks/aura/production" {
  capabilities = ["delete"]
}

# The manual follow-ups still owed (keys a person rotates, then `rotate confirm`): written
# at finish, read by status, rewritten and finally deleted by confirm.
path "secret/data/lockstep/pending/aura/production" {
  capabilities = ["create", "read", "update"]
}
path "secret/metadata/lockstep/pending/aura/production" {
  capabilities = ["delete"]
}

# Lockstep asks which mount (and KV version) a path is on.
path "sys/internal/ui/mounts/*" {
  capabilities = ["read"]
}
