#define _GNU_SOURCE
#include "csystem.h"
#include <sys/prctl.h>

int lockstep_set_dumpable(int dumpable) { return prctl(PR_SET_DUMPABLE, dumpable, 0, 0, 0); }
int lockstep_get_dumpable(void) { return prctl(PR_GET_DUMPABLE, 0, 0, 0, 0); }

#include <sys/random.h>
long lockstep_getrandom(void *buffer, unsigned long length) { return getrandom(buffer, length, 0); }

#include <fcntl.h>
#include <spawn.h>
#include <unistd.h>
// pipe2 and posix_spawn_file_actions_addchdir_np are GNU extensions, hidden from Swift's
// Glibc module because it is built without _GNU_SOURCE.
int lockstep_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }
int lockstep_spawn_addchdir(posix_spawn_file_actions_t *actions, const char *path) {
  return posix_spawn_file_actions_addchdir_np(actions, path);
}
