/*
 * scripts/vmshim.c - the launcher: vmshim [OPTION...] [--] PROGRAM [ARGS...]
 *
 * Owns: the launcher's command line, the search for libvmshim.so, and the
 * environment PROGRAM starts with (LD_PRELOAD and the VMSHIM_* variables).
 * Every value is validated with the library's own parser,
 * vms_option_parse() in util/options.c, so the launcher and the library
 * accept exactly the same forms and describe them with the same words.
 * The launcher then replaces itself with PROGRAM (execvp), so PROGRAM's
 * exit status, or the signal that killed it, is what the caller sees.
 *
 * Exit status of the launcher itself: 0 for --help and --version; 2 for a
 * usage error, an unusable library or an output error; 127 when PROGRAM is
 * not found and 126 when it cannot be executed, as shells do.  Diagnostics
 * are one line on stderr, followed by one usage line for usage errors.
 *
 * The library is the first that exists of: $VMSHIM_LIB; the build tree
 * next to this executable (<dir>/../libvmshim/.libs/libvmshim.so, so an
 * uninstalled scripts/vmshim runs the library built with it); the
 * installed $(libdir)/libvmshim.so (VMS_LIBDIR, set by the build).
 *
 * To add an option that sets a VMSHIM_* variable, add one line to
 * launcher_opts[].
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/options.h"
#include "vmshim_live.h"

#ifndef VMS_LIBDIR
#error "VMS_LIBDIR (the installed library directory) must be defined by the build"
#endif

#define LIB_NAME "libvmshim.so"
#define BUILD_TREE_LIB "../libvmshim/.libs/" LIB_NAME
/* Characters that separate entries of LD_PRELOAD (ld.so(8)). */
#define PRELOAD_SEPARATORS " :\t\n"

enum {
	LOPT_DIR = 1 << 0,     /* must name an existing directory */
	LOPT_PATTERN = 1 << 1, /* the library expands %p (and %%) in it */
};

/*
 * One command-line option that sets one VMSHIM_* variable.  An option with
 * an argument (arg != NULL) takes it as "--name VALUE" or "--name=VALUE"; a
 * flag (arg == NULL) takes none and sets the variable to flag_value.
 * Values of path kinds are made absolute against the launcher's working
 * directory, so that a program that changes directory still uses them.
 */
struct launcher_opt {
	const char *name;       /* "mem-limit", spelled --mem-limit */
	const char *arg;        /* "SIZE" in the help, NULL for a flag */
	enum vms_option_id id;  /* the variable it sets */
	const char *flag_value; /* what a flag sets */
	unsigned flags;         /* LOPT_* */
};

static const struct launcher_opt launcher_opts[] = {
	{ "mem-limit", "SIZE", VMS_OPT_MEM_LIMIT, NULL, 0 },
	{ "swap-dir", "DIR", VMS_OPT_SWAP_DIR, NULL, LOPT_DIR },
	{ "swap-max", "SIZE", VMS_OPT_SWAP_MAX, NULL, 0 },
	{ "stats", NULL, VMS_OPT_STATS, "1", 0 },
	{ "stats-file", "PATH", VMS_OPT_STATS_FILE, NULL, LOPT_PATTERN },
	{ "maps-file", "PATH", VMS_OPT_MAPS_FILE, NULL, LOPT_PATTERN },
	{ "maps", NULL, VMS_OPT_MAPS, "1", 0 },
	{ "trace", "FILE", VMS_OPT_TRACE, NULL, LOPT_PATTERN },
	{ "no-live", NULL, VMS_OPT_LIVE, "0", 0 },
	{ "live-dir", "DIR", VMS_OPT_LIVE_DIR, NULL, 0 },
};

#define N_LAUNCHER_OPTS (sizeof launcher_opts / sizeof launcher_opts[0])

static const char usage_line[] =
	"usage: vmshim [OPTION...] [--] PROGRAM [ARGS...]  (vmshim --help lists the options)\n";

/*
 * Writes "vmshim: <message>\n", then tail if not NULL, on stderr in one
 * write, and exits with status.
 */
static _Noreturn void report(int status, const char *tail, const char *fmt, va_list ap)
{
	char line[4096];
	int n = snprintf(line, sizeof line, "vmshim: ");

	n += vsnprintf(line + n, sizeof line - n, fmt, ap);
	if (n > (int)sizeof line - 2)
		n = sizeof line - 2;
	snprintf(line + n, sizeof line - n, "\n%s", tail ? tail : "");
	fputs(line, stderr);
	exit(status);
}

/* Reports a usage error, then the usage line; exits 2. */
__attribute__((format(printf, 1, 2))) static _Noreturn void usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report(2, usage_line, fmt, ap);
}

/* Reports an error; exits with status. */
__attribute__((format(printf, 2, 3))) static _Noreturn void die(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report(status, NULL, fmt, ap);
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n);

	if (p == NULL)
		die(2, "out of memory");
	return p;
}

static void xsetenv(const char *name, const char *value)
{
	if (setenv(name, value, 1) != 0)
		die(2, "cannot set %s: %s", name, strerror(errno));
}

static int is_regular_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The directory of this executable, with a trailing '/', or "" if unknown. */
static const char *self_dir(void)
{
	static char dir[PATH_MAX];
	ssize_t n;
	char *slash;

	if (dir[0] != '\0')
		return dir;
	n = readlink("/proc/self/exe", dir, sizeof dir - 1);
	if (n <= 0 || (size_t)n >= sizeof dir - 1) {
		dir[0] = '\0';
		return dir;
	}
	dir[n] = '\0';
	slash = strrchr(dir, '/');
	if (slash == NULL)
		dir[0] = '\0';
	else
		slash[1] = '\0';
	return dir;
}

/* "<self_dir>../libvmshim/.libs/libvmshim.so", or NULL if self_dir is unknown. */
static char *build_tree_lib(void)
{
	const char *dir = self_dir();
	char *path;

	if (dir[0] == '\0')
		return NULL;
	path = xmalloc(strlen(dir) + sizeof BUILD_TREE_LIB);
	strcpy(path, dir);
	strcat(path, BUILD_TREE_LIB);
	return path;
}

/* The canonical absolute path of the library to preload; exits 2 if none. */
static char *find_library(void)
{
	const char *env = getenv("VMSHIM_LIB");
	char *built, *path;

	if (env != NULL && env[0] != '\0') {
		path = realpath(env, NULL);
		if (path == NULL)
			die(2, "VMSHIM_LIB=%s: %s", env, strerror(errno));
		if (!is_regular_file(path))
			die(2, "VMSHIM_LIB=%s: not a regular file", env);
		return path;
	}
	built = build_tree_lib();
	if (built != NULL && is_regular_file(built)) {
		path = realpath(built, NULL);
		if (path != NULL) {
			free(built);
			return path;
		}
	}
	if (is_regular_file(VMS_LIBDIR "/" LIB_NAME)) {
		path = realpath(VMS_LIBDIR "/" LIB_NAME, NULL);
		if (path != NULL) {
			free(built);
			return path;
		}
	}
	die(2, "cannot find " LIB_NAME ": not in the build tree (%s) nor installed (%s); "
	    "set VMSHIM_LIB to its path",
	    built ? built : "unknown: /proc/self/exe unreadable", VMS_LIBDIR "/" LIB_NAME);
}

/* True if the first entry of the LD_PRELOAD list is lib (by name or file). */
static int preload_starts_with(const char *list, const char *lib)
{
	size_t skip = strspn(list, PRELOAD_SEPARATORS);
	size_t len = strcspn(list + skip, PRELOAD_SEPARATORS);
	char *first, *real;
	int same;

	if (len == 0)
		return 0;
	first = strndup(list + skip, len);
	if (first == NULL)
		die(2, "out of memory");
	same = strcmp(first, lib) == 0;
	if (!same && strchr(first, '/') != NULL) {
		real = realpath(first, NULL);
		same = real != NULL && strcmp(real, lib) == 0;
		free(real);
	}
	free(first);
	return same;
}

/* Puts lib first in LD_PRELOAD, keeping whatever was there after it. */
static void set_preload(const char *lib)
{
	const char *old = getenv("LD_PRELOAD");
	char *list;

	if (lib[strcspn(lib, PRELOAD_SEPARATORS)] != '\0')
		die(2, "cannot preload %s: LD_PRELOAD cannot hold a path with a space or a colon; "
		    "set VMSHIM_LIB to another path of the library", lib);
	if (old == NULL || old[strspn(old, PRELOAD_SEPARATORS)] == '\0') {
		xsetenv("LD_PRELOAD", lib);
		return;
	}
	if (preload_starts_with(old, lib))
		return;
	list = xmalloc(strlen(lib) + 1 + strlen(old) + 1);
	strcpy(list, lib);
	strcat(list, ":");
	strcat(list, old);
	xsetenv("LD_PRELOAD", list);
	free(list);
}

/*
 * A relative path made absolute against the working directory, with '%'
 * in the directory doubled when the library expands the value as a
 * pattern.  Returns value itself when it is absolute or the working
 * directory is unknown.
 */
static const char *absolute_path(const char *value, unsigned flags)
{
	char cwd[PATH_MAX];
	char *out, *o;

	if (value[0] == '/' || getcwd(cwd, sizeof cwd) == NULL)
		return value;
	out = o = xmalloc(2 * strlen(cwd) + 1 + strlen(value) + 1);
	for (const char *c = cwd; *c != '\0'; c++) {
		if (*c == '%' && (flags & LOPT_PATTERN))
			*o++ = '%';
		*o++ = *c;
	}
	if (o[-1] != '/')
		*o++ = '/';
	strcpy(o, value);
	return out;
}

/* Validates value for o and sets its VMSHIM_* variable; exits 2 if bad. */
static void set_option(const struct launcher_opt *o, const char *value)
{
	const struct vms_option_desc *d = vms_option_desc(o->id);
	const char *final = value;
	struct stat st;

	if (vms_option_parse(o->id, value, NULL) != 0)
		usage_error("--%s '%s' is not valid: expected %s", o->name, value, d->form);
	if (d->kind == VMS_OPTK_PATH) {
		final = absolute_path(value, o->flags);
		/* Too long once absolute: the relative form still works. */
		if (vms_option_parse(o->id, final, NULL) != 0)
			final = value;
	}
	if (o->flags & LOPT_DIR) {
		const char *why = NULL;

		if (stat(value, &st) != 0)
			why = strerror(errno);
		else if (!S_ISDIR(st.st_mode))
			why = strerror(ENOTDIR);
		if (why != NULL)
			usage_error("--%s '%s' is not valid: expected %s (%s)", o->name, value,
				    d->form, why);
	}
	xsetenv(d->env, final);
}

static void print_help(void)
{
	const char *lib_env = getenv("VMSHIM_LIB");
	char *built = build_tree_lib();
	char left[64];

	printf("usage: vmshim [OPTION...] [--] PROGRAM [ARGS...]\n"
	       "       vmshim stat [--json] PID | top [-d SECONDS] [-n COUNT] |\n"
	       "              limit [--now] PID SIZE | maps PID\n"
	       "       vmshim --help | --version\n"
	       "\n"
	       "Runs PROGRAM with libvmshim preloaded (LD_PRELOAD): its memory calls and\n"
	       "its malloc family are served by libvmshim's user-space virtual memory.\n"
	       "The options set the VMSHIM_* variables below; PROGRAM's exit status is\n"
	       "vmshim's.  Options are accepted as --opt VALUE or --opt=VALUE, and end\n"
	       "at \"--\" or at the first argument that does not start with '-'.\n"
	       "\n"
	       "Commands on running processes (of this user, under the shim):\n"
	       "  stat [--json] PID    print PID's statistics once (table, or JSON)\n"
	       "  top [-d S] [-n N]    refresh a table of every process under the shim\n"
	       "  limit [--now] PID SIZE  change PID's resident limit (0: none); --now\n"
	       "                       reclaims down to it at once\n"
	       "  maps PID             print PID's emulated address space\n"
	       "To run a program named like a command: vmshim -- NAME.\n"
	       "\n"
	       "Options:\n");
	for (size_t i = 0; i < N_LAUNCHER_OPTS; i++) {
		const struct launcher_opt *o = &launcher_opts[i];
		const struct vms_option_desc *d = vms_option_desc(o->id);

		snprintf(left, sizeof left, "--%s%s%s", o->name, o->arg ? " " : "",
			 o->arg ? o->arg : "");
		printf("  %-20s set %s=%s%s\n", left, d->env, o->arg ? o->arg : o->flag_value,
		       (o->flags & LOPT_DIR) ? " (an existing directory)" : "");
	}
	printf("  %-20s print this help and exit\n"
	       "  %-20s print the version and exit\n"
	       "\n"
	       "Variables read by libvmshim (a bad value is reported in one line and the\n"
	       "default is kept):\n",
	       "--help", "--version");
	for (int id = 0; id < VMS_OPT_COUNT; id++) {
		const struct vms_option_desc *d = vms_option_desc((enum vms_option_id)id);

		printf("  %-20s %s\n  %-20s form: %s\n  %-20s default: %s\n", d->env, d->help, "",
		       d->form, "", d->def_text);
	}
	printf("\n"
	       "The library preloaded is the first that exists of:\n"
	       "  1. $VMSHIM_LIB (%s%s)\n"
	       "  2. %s (build tree)\n"
	       "  3. %s (installed)\n"
	       "\n"
	       "Exit status: PROGRAM's; 2 for a usage error or when the library is not\n"
	       "found; 126 if PROGRAM cannot be executed, 127 if it is not found.\n"
	       "See vmshim(1) and vmshim(7).\n",
	       lib_env ? "now " : "unset", lib_env ? lib_env : "",
	       built ? built : "<launcher directory>/" BUILD_TREE_LIB, VMS_LIBDIR "/" LIB_NAME);
	free(built);
}

/* Exits 0 after flushing stdout, or 2 if the output could not be written. */
static _Noreturn void exit_after_output(void)
{
	if (fflush(stdout) != 0 || ferror(stdout))
		die(2, "cannot write to standard output: %s", strerror(errno));
	exit(0);
}

static const struct launcher_opt *find_opt(const char *name, size_t len)
{
	for (size_t i = 0; i < N_LAUNCHER_OPTS; i++) {
		if (strlen(launcher_opts[i].name) == len &&
		    strncmp(launcher_opts[i].name, name, len) == 0)
			return &launcher_opts[i];
	}
	return NULL;
}

static _Noreturn void unknown_option(const char *arg)
{
	char known[512];
	size_t n = 0;

	known[0] = '\0';
	for (size_t i = 0; i < N_LAUNCHER_OPTS && n < sizeof known; i++)
		n += snprintf(known + n, sizeof known - n, "--%s, ", launcher_opts[i].name);
	usage_error("unknown option '%s' (known: %s--help, --version)", arg, known);
}

int main(int argc, char **argv)
{
	int i;
	char *lib;

	/* vmshim stat|top|limit|maps ...: commands on running processes
	 * (a program of one of those names runs with "vmshim -- NAME"). */
	if (argc > 1) {
		int status = vms_live_command(argc - 1, argv + 1);
		if (status >= 0) {
			if (fflush(stdout) != 0 || ferror(stdout))
				die(2, "cannot write to standard output: %s", strerror(errno));
			return status;
		}
	}
	for (i = 1; i < argc; i++) {
		const char *arg = argv[i];
		const char *name, *eq, *value;
		const struct launcher_opt *o;
		size_t len;

		if (strcmp(arg, "--") == 0) {
			i++;
			break;
		}
		if (arg[0] != '-')
			break;
		if (arg[1] != '-')
			unknown_option(arg);
		name = arg + 2;
		eq = strchr(name, '=');
		len = eq ? (size_t)(eq - name) : strlen(name);
		if ((len == 4 && strncmp(name, "help", 4) == 0) ||
		    (len == 7 && strncmp(name, "version", 7) == 0)) {
			if (eq)
				usage_error("--%.*s takes no value (got '%s')", (int)len, name,
					    eq + 1);
			if (name[0] == 'h')
				print_help();
			else
				printf("vmshim (libvmshim) %s\n", PACKAGE_VERSION);
			exit_after_output();
		}
		o = find_opt(name, len);
		if (o == NULL)
			unknown_option(arg);
		if (o->arg == NULL) {
			if (eq)
				usage_error("--%s takes no value (got '%s')", o->name, eq + 1);
			set_option(o, o->flag_value);
			continue;
		}
		if (eq) {
			value = eq + 1;
		} else if (i + 1 < argc) {
			value = argv[++i];
		} else {
			usage_error("--%s: missing value: expected %s", o->name,
				    vms_option_desc(o->id)->form);
		}
		set_option(o, value);
	}
	if (i >= argc)
		usage_error("missing PROGRAM: expected a program to run after the options");

	lib = find_library();
	set_preload(lib);
	free(lib);

	execvp(argv[i], &argv[i]);
	die(errno == ENOENT ? 127 : 126, "%s: %s", argv[i], strerror(errno));
}
