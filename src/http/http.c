/* The shared HTTP vocabulary: method names, reason phrases, header lookup. */
#include <string.h>

#include "concur/http.h"

static const char *const method_names[CC_HTTP_METHOD_COUNT] = {
    [CC_HTTP_GET] = "GET",         [CC_HTTP_HEAD] = "HEAD",
    [CC_HTTP_POST] = "POST",       [CC_HTTP_PUT] = "PUT",
    [CC_HTTP_DELETE] = "DELETE",   [CC_HTTP_PATCH] = "PATCH",
    [CC_HTTP_OPTIONS] = "OPTIONS", [CC_HTTP_CONNECT] = "CONNECT",
    [CC_HTTP_TRACE] = "TRACE",     [CC_HTTP_OTHER] = "OTHER",
};

const char *cc_http_method_name(cc_http_method_t m) {
  if ((unsigned)m >= CC_HTTP_METHOD_COUNT)
    return NULL;
  return method_names[m];
}

cc_http_method_t cc_http_method_parse(const char *name, size_t len) {
  for (int m = 0; m < CC_HTTP_OTHER; m++)
    if (strlen(method_names[m]) == len && memcmp(method_names[m], name, len) == 0)
      return (cc_http_method_t)m;
  return CC_HTTP_OTHER;
}

const char *cc_http_reason(int status) {
  switch (status) {
  case 100:
    return "Continue";
  case 101:
    return "Switching Protocols";
  case 200:
    return "OK";
  case 201:
    return "Created";
  case 202:
    return "Accepted";
  case 204:
    return "No Content";
  case 206:
    return "Partial Content";
  case 301:
    return "Moved Permanently";
  case 302:
    return "Found";
  case 303:
    return "See Other";
  case 304:
    return "Not Modified";
  case 307:
    return "Temporary Redirect";
  case 308:
    return "Permanent Redirect";
  case 400:
    return "Bad Request";
  case 401:
    return "Unauthorized";
  case 403:
    return "Forbidden";
  case 404:
    return "Not Found";
  case 405:
    return "Method Not Allowed";
  case 408:
    return "Request Timeout";
  case 409:
    return "Conflict";
  case 411:
    return "Length Required";
  case 412:
    return "Precondition Failed";
  case 413:
    return "Content Too Large";
  case 414:
    return "URI Too Long";
  case 415:
    return "Unsupported Media Type";
  case 416:
    return "Range Not Satisfiable";
  case 417:
    return "Expectation Failed";
  case 426:
    return "Upgrade Required";
  case 429:
    return "Too Many Requests";
  case 431:
    return "Request Header Fields Too Large";
  case 500:
    return "Internal Server Error";
  case 501:
    return "Not Implemented";
  case 502:
    return "Bad Gateway";
  case 503:
    return "Service Unavailable";
  case 504:
    return "Gateway Timeout";
  case 505:
    return "HTTP Version Not Supported";
  default:
    return "Unknown";
  }
}

static inline unsigned char lower(unsigned char c) {
  return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

bool cc_http_token_eq(const char *a, size_t len, const char *b) {
  for (size_t i = 0; i < len; i++)
    if (b[i] == '\0' || lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
      return false;
  return b[len] == '\0';
}

const cc_http_header_t *cc_http_header_find(const cc_http_header_t *hdrs, size_t n,
                                            const char *name) {
  for (size_t i = 0; i < n; i++)
    if (cc_http_token_eq(hdrs[i].name, hdrs[i].name_len, name))
      return &hdrs[i];
  return NULL;
}
