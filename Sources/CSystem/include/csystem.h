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
// Closes every descriptor from `lowest` up in the child (glibc 2.34+), so a child never
// inherits a socket or file that was opened without O_CLOEXEC (libcurl's, libpq's).
int lockstep_spawn_addclosefrom(posix_spawn_file_actions_t *actions, int lowest);
// Replaces the handlers of the fatal signals (SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE,
// SIGSEGV) with one that writes a fixed sentence and exits with `status`: the Swift
// runtime's crash reporter would print registers and the memory they point to, which may
// be a secret. Runs on an alternate stack so a stack overflow is caught too.
int lockstep_install_crash_handlers(int status);
#endif
