/*
 * util/options.c - the VMSHIM_* table; see util/options.h.
 *
 * Invariants: values[] always holds a valid value for every option (the
 * default until a valid setting replaces it); nothing allocates.
 */
#include "config.h"
#include "util/options.h"

#include <string.h>

#include "os/fmt.h"
#include "os/raw.h"
#include "util/log.h"

static const struct vms_option_desc table[VMS_OPT_COUNT] = {
	[VMS_OPT_MEM_LIMIT] = { "VMSHIM_MEM_LIMIT", VMS_OPTK_SIZE, 0, "0 (no limit)",
		0, UINT64_MAX, VMS_SIZE_FORM ", or 0 for no limit",
		"resident-memory limit of the arena; pages above it go to swap" },
	[VMS_OPT_SWAP_DIR] = { "VMSHIM_SWAP_DIR", VMS_OPTK_PATH, 0, "$TMPDIR or /tmp",
		0, 0, "a directory path",
		"directory for the (unlinked) swap file" },
	[VMS_OPT_SWAP_MAX] = { "VMSHIM_SWAP_MAX", VMS_OPTK_SIZE, 64ULL << 30, "64G",
		1ULL << 20, 1ULL << 50, "a size from 1M to 1P, like 16G",
		"largest size the swap file may grow to; past it pages stay resident" },
	[VMS_OPT_SWAP_DIRECT] = { "VMSHIM_SWAP_DIRECT", VMS_OPTK_BOOL, 1, "1",
		0, 1, "0 or 1",
		"1 reads and writes swap with O_DIRECT (not cached twice); 0 through the page cache" },
	[VMS_OPT_ARENA_SIZE] = { "VMSHIM_ARENA_SIZE", VMS_OPTK_SIZE, 1ULL << 40, "1T",
		64ULL << 20, 64ULL << 40, "a size from 64M to 64T, like 256G or 1T",
		"address space reserved for the arena at start" },
	[VMS_OPT_FAULT_AROUND] = { "VMSHIM_FAULT_AROUND", VMS_OPTK_POW2, 16, "16",
		1, 512, "a power of two from 1 to 512 (pages)",
		"pages made present by one fault (aligned block)" },
	[VMS_OPT_STATS] = { "VMSHIM_STATS", VMS_OPTK_BOOL, 0, "0",
		0, 1, "0 or 1",
		"1 prints a table of statistics on stderr at exit" },
	[VMS_OPT_STATS_FILE] = { "VMSHIM_STATS_FILE", VMS_OPTK_PATH, 0, "unset",
		0, 0, "a file path (%p becomes the process id)",
		"write statistics as JSON to this file at exit" },
	[VMS_OPT_MAPS_FILE] = { "VMSHIM_MAPS_FILE", VMS_OPTK_PATH, 0, "unset",
		0, 0, "a file path (%p becomes the process id)",
		"write the emulated address space (maps format) to this file at exit" },
	[VMS_OPT_MAPS] = { "VMSHIM_MAPS", VMS_OPTK_BOOL, 0, "0",
		0, 1, "0 or 1",
		"1 prints the emulated address space (maps format) on stderr at exit" },
	[VMS_OPT_TRACE] = { "VMSHIM_TRACE", VMS_OPTK_PATH, 0, "unset",
		0, 0, "a file path (%p becomes the process id)",
		"record fault and eviction events in this binary trace file" },
	[VMS_OPT_LIVE] = { "VMSHIM_LIVE", VMS_OPTK_BOOL, 1, "1",
		0, 1, "0 or 1",
		"1 publishes live statistics for vmshim stat, top and limit" },
	[VMS_OPT_LIVE_DIR] = { "VMSHIM_LIVE_DIR", VMS_OPTK_PATH, 0, "/dev/shm/vmshim-UID",
		0, 0, "a directory path",
		"directory of the live statistics segments (one file per process)" },
	[VMS_OPT_LOG] = { "VMSHIM_LOG", VMS_OPTK_LOGLEVEL, VMS_LOG_WARN, "warn",
		0, 3, "one of error, warn, info, debug (or 0-3)",
		"diagnostic level on stderr" },
	[VMS_OPT_VERBOSE] = { "VMSHIM_VERBOSE", VMS_OPTK_BOOL, 0, "0",
		0, 1, "0 or 1",
		"1 prints this option table at start" },
	[VMS_OPT_EFAULT_REPORT] = { "VMSHIM_EFAULT_REPORT", VMS_OPTK_BOOL, 0, "0",
		0, 1, "0 or 1",
		"1 reports on stderr each EFAULT a wrapped call returns for arena memory" },
};

static uint64_t values[VMS_OPT_COUNT];
static char strings[VMS_OPT_COUNT][VMS_OPTION_PATH_MAX];
static int is_set[VMS_OPT_COUNT];

const struct vms_option_desc *vms_option_desc(enum vms_option_id id)
{
	return (unsigned)id < VMS_OPT_COUNT ? &table[id] : NULL;
}

static int parse_loglevel(const char *text, uint64_t *num)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };
	for (uint64_t i = 0; i < 4; i++) {
		if (strcmp(text, names[i]) == 0) {
			*num = i;
			return 0;
		}
	}
	if (vms_parse_uint(text, num) == 0 && *num <= 3) {
		return 0;
	}
	return -1;
}

int vms_option_parse(enum vms_option_id id, const char *text, uint64_t *num)
{
	const struct vms_option_desc *d = vms_option_desc(id);
	uint64_t v = 0;
	if (d == NULL || text == NULL) {
		return -1;
	}
	switch (d->kind) {
	case VMS_OPTK_SIZE:
		if (vms_parse_size(text, &v) != 0 || v < d->min || v > d->max) {
			return -1;
		}
		/* A zero limit means none; other sizes must be whole pages. */
		if (id == VMS_OPT_ARENA_SIZE && (v & 4095) != 0) {
			return -1;
		}
		break;
	case VMS_OPTK_POW2:
		if (vms_parse_uint(text, &v) != 0 || v < d->min || v > d->max ||
		    (v & (v - 1)) != 0) {
			return -1;
		}
		break;
	case VMS_OPTK_BOOL:
		if (strcmp(text, "0") == 0) {
			v = 0;
		} else if (strcmp(text, "1") == 0) {
			v = 1;
		} else {
			return -1;
		}
		break;
	case VMS_OPTK_PATH:
		if (text[0] == '\0' || strlen(text) >= VMS_OPTION_PATH_MAX) {
			return -1;
		}
		break;
	case VMS_OPTK_LOGLEVEL:
		if (parse_loglevel(text, &v) != 0) {
			return -1;
		}
		break;
	}
	if (num != NULL) {
		*num = v;
	}
	return 0;
}

void vms_options_reset(void)
{
	for (int i = 0; i < VMS_OPT_COUNT; i++) {
		values[i] = table[i].def;
		strings[i][0] = '\0';
		is_set[i] = 0;
	}
}

size_t vms_option_bad_value_message(enum vms_option_id id, const char *value,
				    char *buf, size_t cap)
{
	const struct vms_option_desc *d = vms_option_desc(id);
	return vms_fmt(buf, cap, "%s=%s is not valid: expected %s; using the default (%s)",
		       d->env, value, d->form, d->def_text);
}

/* The value of "NAME=" in envp, or NULL. */
static const char *env_lookup(char *const *envp, const char *name)
{
	size_t n = strlen(name);
	for (char *const *e = envp; e != NULL && *e != NULL; e++) {
		if (strncmp(*e, name, n) == 0 && (*e)[n] == '=') {
			return *e + n + 1;
		}
	}
	return NULL;
}

void vms_options_load(char *const *envp)
{
	vms_options_reset();
	for (int i = 0; i < VMS_OPT_COUNT; i++) {
		const char *text = env_lookup(envp, table[i].env);
		if (text == NULL) {
			continue;
		}
		uint64_t v;
		if (vms_option_parse((enum vms_option_id)i, text, &v) != 0) {
			char line[512];
			size_t n = vms_fmt(line, sizeof line - 1, "libvmshim: ");
			n += vms_option_bad_value_message((enum vms_option_id)i, text,
							  line + n, sizeof line - 1 - n);
			line[n++] = '\n';
			vms_raw_write_all(2, line, n);
			continue;
		}
		values[i] = v;
		is_set[i] = 1;
		if (table[i].kind == VMS_OPTK_PATH) {
			memcpy(strings[i], text, strlen(text) + 1);
		}
	}
	vms_log_set_level((int)values[VMS_OPT_LOG]);
}

uint64_t vms_option_num(enum vms_option_id id)
{
	return (unsigned)id < VMS_OPT_COUNT ? values[id] : 0;
}

const char *vms_option_str(enum vms_option_id id)
{
	if ((unsigned)id >= VMS_OPT_COUNT || !is_set[id] || table[id].kind != VMS_OPTK_PATH) {
		return NULL;
	}
	return strings[id];
}

void vms_options_print(int fd)
{
	char line[512];
	for (int i = 0; i < VMS_OPT_COUNT; i++) {
		char val[VMS_OPTION_PATH_MAX + 32];
		const struct vms_option_desc *d = &table[i];
		if (!is_set[i]) {
			vms_fmt(val, sizeof val, "%s (default)", d->def_text);
		} else if (d->kind == VMS_OPTK_PATH) {
			vms_fmt(val, sizeof val, "%s", strings[i]);
		} else if (d->kind == VMS_OPTK_SIZE) {
			vms_fmt_size(val, sizeof val, values[i]);
		} else {
			vms_fmt(val, sizeof val, "%llu", (unsigned long long)values[i]);
		}
		size_t n = vms_fmt(line, sizeof line - 1, "libvmshim: %-20s %-24s %s", d->env, val,
				   d->help);
		line[n++] = '\n';
		vms_raw_write_all(fd, line, n);
	}
}
