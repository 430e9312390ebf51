# lockstep-restore: what `lockstep restore` needs: read live secrets to compare (dry run and
# check-and-set), write versions, write metadata first, and for a full-history restore
# delete and destroy the versions that were deleted or destroyed. `delete` on metadata is
# only used by --force on a full-history restore. Replace `secret` with the target mount.

path "secret/data/*" {
  capabilities = ["create", "read", "update"]
}
path "secret/metadata/*" {
  capabilities = ["create", "read", "update", "list", "delete"]
}
path "secret/delete/*" {
  capabilities = ["update"]
}
path "secret/destroy/*" {
  capabilities = ["update"]
}
path "sys/internal/ui/mounts/*" {
  capabilities = ["read"]
}

# `backup verify --restore-test` additionally mounts and removes its temporary mount:
# path "sys/mounts/lockstep-restore-test-*" {
#   capabilities = ["create", "update", "delete"]
# }
# path "lockstep-restore-test-*" {
#   capabilities = ["create", "read", "update", "list", "delete"]
# }
