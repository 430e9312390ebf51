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
int lockstep_spawn_addclosefrom(posix_spawn_file_actions_t *actions, int lowest) {
  return posix_spawn_file_actions_addclosefrom_np(actions, lowest);
}

#include <signal.h>
#include <stdlib.h>
#include <string.h>
static int lockstep_crash_status = 70;
static const char lockstep_crash_message[] =
    "lockstep: internal error (a crash); nothing about its memory is printed. "
    "Run the command again; if it repeats, report it with the command line and this sentence.\n";
static void lockstep_crash_handler(int signal_number) {
  (void)signal_number;
  ssize_t ignored = write(2, lockstep_crash_message, sizeof lockstep_crash_message - 1);
  (void)ignored;
  _exit(lockstep_crash_status);
}
int lockstep_install_crash_handlers(int status) {
  lockstep_crash_status = status;
  static char alternate[65536];
  stack_t stack;
  memset(&stack, 0, sizeof stack);
  stack.ss_sp = alternate;
  stack.ss_size = sizeof alternate;
  if (sigaltstack(&stack, NULL) != 0) return -1;
  struct sigaction action;
  memset(&action, 0, sizeof action);
  action.sa_handler = lockstep_crash_handler;
  action.sa_flags = SA_ONSTACK;
  sigfillset(&action.sa_mask);
  const int signals[] = {SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE, SIGSEGV};
  for (unsigned i = 0; i < sizeof signals / sizeof signals[0]; i++) {
    if (sigaction(signals[i], &action, NULL) != 0) return -1;
  }
  return 0;
}
