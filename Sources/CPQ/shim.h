#ifndef LOCKSTEP_CPQ_SHIM_H
#define LOCKSTEP_CPQ_SHIM_H
// libpq imports into Swift as it is; the shim only names the header location-independently
// (pkg-config supplies -I/usr/include/postgresql).
#include <libpq-fe.h>
#endif
