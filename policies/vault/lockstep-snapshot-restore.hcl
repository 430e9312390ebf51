# lockstep-snapshot-restore: what `lockstep restore --snapshot` needs: replace the whole
# cluster's state. Without --force the server checks that the snapshot was taken with this
# cluster's unseal keys (sys/storage/raft/snapshot); --force skips that check
# (sys/storage/raft/snapshot-force), for restoring into a newly initialised cluster.
# The token itself is replaced by the snapshot's token store: it is gone afterwards.

path "sys/storage/raft/snapshot" {
  capabilities = ["update"]
}
path "sys/storage/raft/snapshot-force" {
  capabilities = ["update"]
}
