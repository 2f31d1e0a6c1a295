/*
 * util/debug.h - the three kinds of checks.
 *
 *  vms_assert(c)           always on: cheap metadata integrity checks.
 *  vms_assert_internal(c)  VMS_DEBUG >= 1 (configure --enable-debug=1).
 *  vms_assert_expensive(c) VMS_DEBUG >= 2: walks whole structures.
 *
 * A failed check prints file, line and condition with write(2) and aborts;
 * it is safe inside the fault handler.
 */
#ifndef VMS_UTIL_DEBUG_H
#define VMS_UTIL_DEBUG_H

#include "util/log.h"

#ifndef VMS_DEBUG
#define VMS_DEBUG 0
#endif

#define vms_assert(c)                                                          \
	do {                                                                   \
		if (__builtin_expect(!(c), 0)) {                               \
			vms_fatal("assertion failed: %s (%s:%d)", #c, __FILE__, \
				  __LINE__);                                   \
		}                                                              \
	} while (0)

#if VMS_DEBUG >= 1
#define vms_assert_internal(c) vms_assert(c)
#else
#define vms_assert_internal(c) ((void)0)
#endif

#if VMS_DEBUG >= 2
#define vms_assert_expensive(c) vms_assert(c)
#else
#define vms_assert_expensive(c) ((void)0)
#endif

#endif
