# lockstep-snapshot: what `lockstep backup snapshot` needs, and nothing more: read the Raft
# snapshot of the whole cluster. That one capability reveals every secret of the cluster to
# whoever also holds its unseal keys: give it only to the backup job.

path "sys/storage/raft/snapshot" {
  capabilities = ["read"]
}

# Only with a Transit recipient (vault-transit:transit/backup): wrap the file key.
# path "transit/encrypt/backup" {
#   capabilities = ["update"]
# }
