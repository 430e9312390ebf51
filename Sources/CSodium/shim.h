#ifndef LOCKSTEP_CSODIUM_SHIM_H
#define LOCKSTEP_CSODIUM_SHIM_H
// libsodium's functions import as they are; several of its sizes are macros that expand to
// expressions Swift cannot import, so the few Lockstep needs are exposed as functions.
#include <sodium.h>
static inline size_t lockstep_sodium_pwhash_saltbytes(void) { return crypto_pwhash_SALTBYTES; }
static inline size_t lockstep_sodium_sealbytes(void) { return crypto_box_SEALBYTES; }
#endif
