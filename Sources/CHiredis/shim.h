#ifndef LOCKSTEP_CHIREDIS_SHIM_H
#define LOCKSTEP_CHIREDIS_SHIM_H
#include <hiredis/hiredis.h>

// redisCommand is variadic (printf-style), which Swift cannot call, and formatting secrets
// through a format string is a hazard anyway: Lockstep always sends binary-safe argument
// vectors through redisCommandArgv, which is not variadic and imports as is. The one macro
// Swift cannot see is the reply-type set; these constants mirror it.
static const int LOCKSTEP_REDIS_REPLY_STRING = REDIS_REPLY_STRING;
static const int LOCKSTEP_REDIS_REPLY_ARRAY = REDIS_REPLY_ARRAY;
static const int LOCKSTEP_REDIS_REPLY_INTEGER = REDIS_REPLY_INTEGER;
static const int LOCKSTEP_REDIS_REPLY_NIL = REDIS_REPLY_NIL;
static const int LOCKSTEP_REDIS_REPLY_STATUS = REDIS_REPLY_STATUS;
static const int LOCKSTEP_REDIS_REPLY_ERROR = REDIS_REPLY_ERROR;
#endif
