#ifndef LOCKSTEP_COPENSSL_SHIM_H
#define LOCKSTEP_COPENSSL_SHIM_H
#include <openssl/evp.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <openssl/crypto.h>

// OPENSSL_free is a function-like macro (it passes __FILE__/__LINE__), which Swift cannot
// import; this wrapper gives it a callable name.
static inline void lockstep_openssl_free(void *p) { OPENSSL_free(p); }
#endif
