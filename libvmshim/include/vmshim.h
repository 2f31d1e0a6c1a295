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

/*
 * For tests: arms fault-injection rules as VMSHIM_FAULT_INJECT would (same
 * form, see vmshim(7)), replacing the ones in force, with every call count
 * starting again from zero, so that "mmap:1" means the next mmap of the
 * shim's.  NULL disarms.  Returns 0, or -1 when rules is not in the form.
 * Call it while no other thread is making memory calls.
 */
int vmshim_fault_inject(const char *rules);

#ifdef __cplusplus
}
#endif

#endif
