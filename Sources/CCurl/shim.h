#ifndef LOCKSTEP_CCURL_SHIM_H
#define LOCKSTEP_CCURL_SHIM_H
#include <curl/curl.h>

// curl_easy_setopt and curl_easy_getinfo are variadic, which Swift cannot call; these typed
// wrappers give one entry point per argument type. Prefixed to avoid clashing with curl.

static inline CURLcode lockstep_curl_setopt_long(CURL *h, CURLoption o, long v) {
  return curl_easy_setopt(h, o, v);
}
static inline CURLcode lockstep_curl_setopt_ptr(CURL *h, CURLoption o, const void *v) {
  return curl_easy_setopt(h, o, v);
}
static inline CURLcode lockstep_curl_setopt_off(CURL *h, CURLoption o, curl_off_t v) {
  return curl_easy_setopt(h, o, v);
}
typedef size_t (*lockstep_curl_data_cb)(char *, size_t, size_t, void *);
static inline CURLcode lockstep_curl_setopt_datacb(CURL *h, CURLoption o, lockstep_curl_data_cb v) {
  return curl_easy_setopt(h, o, v);
}
typedef int (*lockstep_curl_xferinfo_cb)(void *, curl_off_t, curl_off_t, curl_off_t, curl_off_t);
static inline CURLcode lockstep_curl_setopt_xferinfo(CURL *h, CURLoption o, lockstep_curl_xferinfo_cb v) {
  return curl_easy_setopt(h, o, v);
}
static inline CURLcode lockstep_curl_getinfo_long(CURL *h, CURLINFO i, long *v) {
  return curl_easy_getinfo(h, i, v);
}
static inline CURLcode lockstep_curl_getinfo_double(CURL *h, CURLINFO i, double *v) {
  return curl_easy_getinfo(h, i, v);
}
static inline CURLcode lockstep_curl_getinfo_off(CURL *h, CURLINFO i, curl_off_t *v) {
  return curl_easy_getinfo(h, i, v);
}
static inline CURLcode lockstep_curl_getinfo_string(CURL *h, CURLINFO i, char **v) {
  return curl_easy_getinfo(h, i, v);
}
static inline CURLSHcode lockstep_curl_share_setopt_long(CURLSH *s, CURLSHoption o, long v) {
  return curl_share_setopt(s, o, v);
}
static inline CURLMcode lockstep_curl_multi_setopt_long(CURLM *m, CURLMoption o, long v) {
  return curl_multi_setopt(m, o, v);
}
#endif
