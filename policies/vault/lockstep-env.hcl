# lockstep-env: read the secrets `lockstep env render` and `env keys` render. Replace the
# path below with the ones you render (one block per path). Grants no list and no write.
path "secret/data/aura/production" {
  capabilities = ["read"]
}

# Lockstep asks which mount (and KV version) a path is on.
path "sys/internal/ui/mounts/*" {
  capabilities = ["read"]
}
