/*
 * Status codes of libeinc_rt, their names and messages (from the X-macro table in einc_rt.h),
 * and the thread-local detail of the last failure.
 */
#include <stdarg.h>
#include <stdio.h>

#include "backend.h"

const char *einc_rt_status_message(int status) {
  switch (status) {
#define EINC_RT__STATUS_MSG(name, value, msg)                                                      \
  case value:                                                                                      \
    return msg;
    EINC_RT_STATUS_TABLE(EINC_RT__STATUS_MSG)
#undef EINC_RT__STATUS_MSG
  }
  return "unknown status";
}

const char *einc_rt_status_name(int status) {
  switch (status) {
#define EINC_RT__STATUS_NAME(name, value, msg)                                                     \
  case value:                                                                                      \
    return "EINC_RT_" #name;
    EINC_RT_STATUS_TABLE(EINC_RT__STATUS_NAME)
#undef EINC_RT__STATUS_NAME
  }
  return "EINC_RT_UNKNOWN";
}

static _Thread_local char einc_rt__last_error[512];

const char *einc_rt_last_error(void) {
  return einc_rt__last_error;
}

int einc_rt__fail(int status, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(einc_rt__last_error, sizeof einc_rt__last_error, fmt, ap);
  va_end(ap);
  return status;
}
