/*
 * util/options.h - the one table of VMSHIM_* variables.
 *
 * Owns: every option's name, accepted form, default and parsed value.  The
 * library loads them from the environment at initialisation; the launcher
 * validates its command-line options with the same parsers, so both accept
 * exactly the same values.  Nothing here allocates: string values are
 * copied into fixed buffers.
 *
 * A bad value is reported in one line naming the variable, the value and
 * the accepted form, and the option keeps its default.
 */
#ifndef VMS_UTIL_OPTIONS_H
#define VMS_UTIL_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

enum vms_option_id {
	VMS_OPT_MEM_LIMIT,   /* bytes; 0 = no limit */
	VMS_OPT_SWAP_DIR,    /* path */
	VMS_OPT_SWAP_MAX,    /* bytes: the swap file never grows past it */
	VMS_OPT_SWAP_DIRECT, /* 0/1: swap I/O bypasses the page cache (O_DIRECT) */
	VMS_OPT_ARENA_SIZE,  /* bytes */
	VMS_OPT_FAULT_AROUND,/* pages per fault-in block, power of two */
	VMS_OPT_STATS,       /* 0/1: human table on stderr at exit */
	VMS_OPT_STATS_FILE,  /* path, %p = pid: JSON at exit */
	VMS_OPT_MAPS_FILE,   /* path, %p = pid: the emulated maps view at exit */
	VMS_OPT_MAPS,        /* 0/1: the maps view on stderr at exit */
	VMS_OPT_TRACE,       /* path, %p = pid: binary fault/eviction trace */
	VMS_OPT_LIVE,        /* 0/1: publish the live segment (util/live.h) */
	VMS_OPT_LIVE_DIR,    /* path: where live segments go */
	VMS_OPT_LOG,         /* error, warn, info, debug */
	VMS_OPT_VERBOSE,     /* 0/1: print the option table at start */
	VMS_OPT_EFAULT_REPORT, /* 0/1: report EFAULTs of wrapped calls on arena memory */
	VMS_OPT_COUNT
};

enum vms_option_kind {
	VMS_OPTK_SIZE,       /* vms_parse_size, within [min, max] */
	VMS_OPTK_POW2,       /* integer power of two within [min, max] */
	VMS_OPTK_BOOL,       /* 0 or 1 */
	VMS_OPTK_PATH,       /* non-empty, shorter than VMS_OPTION_PATH_MAX */
	VMS_OPTK_LOGLEVEL,   /* error|warn|info|debug or 0-3 */
};

#define VMS_OPTION_PATH_MAX 1024

struct vms_option_desc {
	const char *env;         /* "VMSHIM_MEM_LIMIT" */
	enum vms_option_kind kind;
	uint64_t def;            /* numeric default */
	const char *def_text;    /* the default as users read it */
	uint64_t min, max;       /* numeric range (SIZE, POW2) */
	const char *form;        /* the accepted form, for messages */
	const char *help;        /* one line for --help and VMSHIM_VERBOSE */
};

const struct vms_option_desc *vms_option_desc(enum vms_option_id id);

/*
 * Parses text as option id's value without storing it: 0 and *num (numeric
 * kinds) on success, -1 if text is not in the accepted form.
 */
int vms_option_parse(enum vms_option_id id, const char *text, uint64_t *num);

/* Loads every option from envp, reporting bad values on stderr. */
void vms_options_load(char *const *envp);
/* Resets every option to its default (tests). */
void vms_options_reset(void);

uint64_t vms_option_num(enum vms_option_id id);
/* The string value, or NULL when unset (path kinds). */
const char *vms_option_str(enum vms_option_id id);

/* "VMSHIM_X=value is not valid: expected FORM; using the default (D)" */
size_t vms_option_bad_value_message(enum vms_option_id id, const char *value,
				    char *buf, size_t cap);

/* Writes the table of options and their current values to fd. */
void vms_options_print(int fd);

#endif
