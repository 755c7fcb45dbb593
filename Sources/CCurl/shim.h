#ifndef AI_SYSADMIN_CCURL_SHIM_H
#define AI_SYSADMIN_CCURL_SHIM_H
#include <curl/curl.h>
#include <sys/prctl.h>

// curl_easy_setopt and curl_easy_getinfo are variadic; Swift needs one typed wrapper per argument type.

static inline CURLcode ai_curl_setopt_long(CURL *h, CURLoption o, long v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode ai_curl_setopt_string(CURL *h, CURLoption o, const char *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode ai_curl_setopt_pointer(CURL *h, CURLoption o, void *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode ai_curl_setopt_slist(CURL *h, CURLoption o, struct curl_slist *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode ai_curl_setopt_off_t(CURL *h, CURLoption o, curl_off_t v) { return curl_easy_setopt(h, o, v); }

typedef size_t (*ai_curl_data_callback)(char *data, size_t size, size_t count, void *userdata);
static inline CURLcode ai_curl_setopt_data_callback(CURL *h, CURLoption o, ai_curl_data_callback cb) {
    return curl_easy_setopt(h, o, cb);
}

static inline CURLcode ai_curl_getinfo_long(CURL *h, CURLINFO i, long *v) { return curl_easy_getinfo(h, i, v); }
static inline CURLcode ai_curl_getinfo_double(CURL *h, CURLINFO i, double *v) { return curl_easy_getinfo(h, i, v); }

static inline CURLMcode ai_curl_multi_setopt_long(CURLM *m, CURLMoption o, long v) { return curl_multi_setopt(m, o, v); }

/// The easy handle and result of a finished transfer, or NULL when CURLMSG_DONE was not the message.
static inline CURL *ai_curl_msg_done(CURLMsg *msg, CURLcode *result) {
    if (msg == NULL || msg->msg != CURLMSG_DONE) return NULL;
    *result = msg->data.result;
    return msg->easy_handle;
}

static inline size_t ai_curl_writefunc_pause(void) { return CURL_WRITEFUNC_PAUSE; }

/// Names the calling thread (what top -H and perf show); the kernel keeps the first 15 bytes.
static inline void ai_name_current_thread(const char *name) { prctl(PR_SET_NAME, name, 0, 0, 0); }

/// Resumes a transfer whose write callback returned CURL_WRITEFUNC_PAUSE; libcurl redelivers the held data.
static inline CURLcode ai_curl_unpause(CURL *h) { return curl_easy_pause(h, CURLPAUSE_CONT); }
#endif
