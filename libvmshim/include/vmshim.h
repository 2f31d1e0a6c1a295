/*
 * vmshim.h - the small public interface of libvmshim.so.
 *
 * Programs do not need it: libvmshim works on unmodified programs loaded
 * with LD_PRELOAD.  Tests, benchmarks and tools that want to look inside a
 * running shim use these functions, preferably through dlsym(RTLD_DEFAULT,
 * ...) so that they still run without the shim.
 */
#ifndef VMSHIM_H
#define VMSHIM_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The library's version, "MAJOR.MINOR.PATCH". */
const char *vmshim_version(void);

/*
 * Renders the current statistics as the JSON document described in
 * vmshim(7) into buf (NUL-terminated, truncated at cap); returns its length.
 */
size_t vmshim_stats_json(char *buf, size_t cap);

#ifdef __cplusplus
}
#endif

#endif
