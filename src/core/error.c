/* cc_strerror / cc_err_name, generated from the one CC_ERRNO_MAP table. */
#include "concur/error.h"
#include "concur/version.h"

const char *cc_strerror(int err) {
  if (err < 0)
    err = -err;
  switch (err) {
#define X(name, val, msg)                                                                \
  case val:                                                                              \
    return msg;
    CC_ERRNO_MAP(X)
#undef X
  case 0:
    return "success";
  default:
    return "unknown error";
  }
}

const char *cc_err_name(int err) {
  if (err < 0)
    err = -err;
  switch (err) {
#define X(name, val, msg)                                                                \
  case val:                                                                              \
    return #name;
    CC_ERRNO_MAP(X)
#undef X
  case 0:
    return "OK";
  default:
    return "UNKNOWN";
  }
}

const char *cc_version_string(void) {
  return CC_VERSION_STRING;
}
