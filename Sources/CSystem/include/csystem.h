#ifndef LOCKSTEP_CSYSTEM_H
#define LOCKSTEP_CSYSTEM_H
// Linux system calls that Glibc's Swift module does not import: prctl is variadic and its
// constants live in <sys/prctl.h>, which the module leaves out. This is Lockstep's own
// code, not a library: it links nothing.
int lockstep_set_dumpable(int dumpable);
int lockstep_get_dumpable(void);
// getrandom(2) with no flags: blocks only until the kernel pool is seeded at boot.
long lockstep_getrandom(void *buffer, unsigned long length);
#include <spawn.h>
int lockstep_pipe_cloexec(int fds[2]);
int lockstep_spawn_addchdir(posix_spawn_file_actions_t *actions, const char *path);
#endif
