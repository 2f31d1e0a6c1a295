/*
 * tests/unit/test_options.c - option parsing, formatting and statistics
 * rendering (os/fmt.c, util/options.c, util/stats.c) and fault-injection
 * rules (util/inject.c), without LD_PRELOAD.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "os/fmt.h"
#include "util/inject.h"
#include "util/options.h"
#include "util/stats.h"

static void test_parse_size_accepts_documented_forms(void **state)
{
	(void)state;
	uint64_t v;
	assert_int_equal(vms_parse_size("512M", &v), 0);
	assert_int_equal(v, 512ULL << 20);
	assert_int_equal(vms_parse_size("2G", &v), 0);
	assert_int_equal(v, 2ULL << 30);
	assert_int_equal(vms_parse_size("65536K", &v), 0);
	assert_int_equal(v, 65536ULL << 10);
	assert_int_equal(vms_parse_size("0", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(vms_parse_size("4096", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(vms_parse_size("1t", &v), 0);
	assert_int_equal(v, 1ULL << 40);
	assert_int_equal(vms_parse_size("3MiB", &v), 0);
	assert_int_equal(v, 3ULL << 20);
	assert_int_equal(vms_parse_size("7GB", &v), 0);
	assert_int_equal(v, 7ULL << 30);
}

static void test_parse_size_rejects_malformed(void **state)
{
	(void)state;
	uint64_t v = 42;
	const char *bad[] = { "banana", "", "-1", "12Q", "1.5G", "M", " 1M", "1M ",
			      "18446744073709551616", "17179869184T", "1KK" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(vms_parse_size(bad[i], &v), -1);
	}
	assert_int_equal(vms_parse_size(NULL, &v), -1);
	assert_int_equal(v, 42);
}

static void test_fmt_formats_like_snprintf(void **state)
{
	(void)state;
	char buf[128];
	assert_int_equal(vms_fmt(buf, sizeof buf, "%d|%5d|%-4d|%05d", -12, 34, 5, -7), 20);
	assert_string_equal(buf, "-12|   34|5   |-0007");
	vms_fmt(buf, sizeof buf, "%s=%lu %llx %zu %c%%", "x", 123456789UL, 0xdeadULL, (size_t)9, 'q');
	assert_string_equal(buf, "x=123456789 dead 9 q%");
	vms_fmt(buf, sizeof buf, "%p", (void *)0x1000);
	assert_string_equal(buf, "0x1000");
	/* Truncation keeps the terminator. */
	assert_int_equal(vms_fmt(buf, 4, "abcdef"), 3);
	assert_string_equal(buf, "abc");
}

static void test_fmt_size_round_trips(void **state)
{
	(void)state;
	char buf[32];
	uint64_t sizes[] = { 0, 1, 4096, 1ULL << 20, 3ULL << 30, 5ULL << 40, 1536 };
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		uint64_t back;
		vms_fmt_size(buf, sizeof buf, sizes[i]);
		assert_int_equal(vms_parse_size(buf, &back), 0);
		assert_int_equal(back, sizes[i]);
	}
	vms_fmt_size(buf, sizeof buf, 2ULL << 30);
	assert_string_equal(buf, "2G");
}

static void test_option_values_validated(void **state)
{
	(void)state;
	uint64_t v;
	assert_int_equal(vms_option_parse(VMS_OPT_MEM_LIMIT, "512M", &v), 0);
	assert_int_equal(v, 512ULL << 20);
	assert_int_equal(vms_option_parse(VMS_OPT_MEM_LIMIT, "banana", &v), -1);
	assert_int_equal(vms_option_parse(VMS_OPT_FAULT_AROUND, "16", &v), 0);
	assert_int_equal(vms_option_parse(VMS_OPT_FAULT_AROUND, "12", &v), -1);
	assert_int_equal(vms_option_parse(VMS_OPT_FAULT_AROUND, "0", &v), -1);
	assert_int_equal(vms_option_parse(VMS_OPT_FAULT_AROUND, "1024", &v), -1);
	assert_int_equal(vms_option_parse(VMS_OPT_ARENA_SIZE, "1M", &v), -1);
	assert_int_equal(vms_option_parse(VMS_OPT_ARENA_SIZE, "100000001", &v), -1);
	assert_int_equal(vms_option_parse(VMS_OPT_ARENA_SIZE, "256G", &v), 0);
	assert_int_equal(vms_option_parse(VMS_OPT_STATS, "1", &v), 0);
	assert_int_equal(vms_option_parse(VMS_OPT_STATS, "yes", &v), -1);
	assert_int_equal(vms_option_parse(VMS_OPT_LOG, "debug", &v), 0);
	assert_int_equal(v, 3);
	assert_int_equal(vms_option_parse(VMS_OPT_LOG, "loud", &v), -1);
	assert_int_equal(vms_option_parse(VMS_OPT_STATS_FILE, "", &v), -1);
}

static void test_options_load_keeps_default_on_bad_value(void **state)
{
	(void)state;
	char *env[] = { "PATH=/bin", "VMSHIM_MEM_LIMIT=banana", "VMSHIM_FAULT_AROUND=64",
			"VMSHIM_STATS_FILE=/tmp/s.%p.json", "VMSHIM_STATS=1", NULL };
	vms_options_load(env);
	assert_int_equal(vms_option_num(VMS_OPT_MEM_LIMIT), 0);
	assert_int_equal(vms_option_num(VMS_OPT_FAULT_AROUND), 64);
	assert_int_equal(vms_option_num(VMS_OPT_STATS), 1);
	assert_string_equal(vms_option_str(VMS_OPT_STATS_FILE), "/tmp/s.%p.json");
	assert_null(vms_option_str(VMS_OPT_SWAP_DIR));
	vms_options_reset();
	assert_int_equal(vms_option_num(VMS_OPT_FAULT_AROUND), 16);
	assert_null(vms_option_str(VMS_OPT_STATS_FILE));
}

/* VMSHIM_FAULT_INJECT: the accepted forms and what each fails. */
static void test_fault_inject_forms(void **state)
{
	(void)state;
	const char *good[] = { "swap-write:1", "swap-read:3+", "pool:%7", "mmap:1,mprotect:2+",
			       "swap-short:%2,swap-enospc:5,swap-write:1+,swap-read:2" };
	const char *bad[] = { "", "swap-write", "swap-write:", "swap-write:0", "swap-write:%0",
			      "swap-write:x", "swap-write:1++", "disk:1", "mmap:1,mmap:2",
			      "mmap:1,", ",mmap:1", "mmap:+", "mmap:-1", "mmap:1 " };
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		if (vms_option_parse(VMS_OPT_FAULT_INJECT, good[i], NULL) != 0) {
			fail_msg("refused %s", good[i]);
		}
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (vms_option_parse(VMS_OPT_FAULT_INJECT, bad[i], NULL) == 0) {
			fail_msg("accepted '%s'", bad[i]);
		}
	}
	char *env[] = { "VMSHIM_FAULT_INJECT=swap-write:3,swap-read:2+,pool:%3", NULL };
	vms_options_load(env);
	assert_string_equal(vms_option_str(VMS_OPT_FAULT_INJECT), "swap-write:3,swap-read:2+,pool:%3");
	/* swap-write:3 fails the third call only. */
	int w[6];
	for (int i = 0; i < 6; i++) {
		w[i] = vms_inject_fail(VMS_INJ_SWAP_WRITE);
	}
	assert_true(!w[0] && !w[1] && w[2] && !w[3] && !w[4] && !w[5]);
	/* swap-read:2+ fails from the second on. */
	assert_false(vms_inject_fail(VMS_INJ_SWAP_READ));
	for (int i = 0; i < 5; i++) {
		assert_true(vms_inject_fail(VMS_INJ_SWAP_READ));
	}
	/* pool:%3: every third. */
	for (int i = 1; i <= 9; i++) {
		assert_int_equal(vms_inject_fail(VMS_INJ_POOL), i % 3 == 0);
	}
	/* Kinds without a rule never fail. */
	for (int i = 0; i < 10; i++) {
		assert_false(vms_inject_fail(VMS_INJ_MMAP));
	}
	assert_int_equal(vms_inject_failed(VMS_INJ_SWAP_READ), 5);
	assert_int_equal(vms_inject_failed(VMS_INJ_POOL), 3);
	/* Re-arming starts the counts again; disarming stops everything. */
	assert_int_equal(vms_inject_parse("mmap:1", true), 0);
	assert_true(vms_inject_fail(VMS_INJ_MMAP));
	assert_false(vms_inject_fail(VMS_INJ_MMAP));
	assert_false(vms_inject_fail(VMS_INJ_SWAP_READ));
	vms_inject_parse("mmap:1+", true);
	vms_inject_disarm();
	assert_false(vms_inject_fail(VMS_INJ_MMAP));
	vms_options_reset();
}

static void test_bad_value_message_names_variable_and_form(void **state)
{
	(void)state;
	char buf[512];
	vms_option_bad_value_message(VMS_OPT_MEM_LIMIT, "banana", buf, sizeof buf);
	assert_non_null(strstr(buf, "VMSHIM_MEM_LIMIT=banana"));
	assert_non_null(strstr(buf, "512M"));
	assert_null(strchr(buf, '\n'));
}

static void test_stats_path_expansion(void **state)
{
	(void)state;
	char out[64];
	assert_int_equal(vms_stats_expand_path("/tmp/s.%p.json", 1234, out, sizeof out), 0);
	assert_string_equal(out, "/tmp/s.1234.json");
	assert_int_equal(vms_stats_expand_path("a%%p%p", 7, out, sizeof out), 0);
	assert_string_equal(out, "a%p7");
	assert_int_equal(vms_stats_expand_path("/very/long/path/%p", 99999, out, 10), -1);
}

static void test_stats_json_has_every_documented_key(void **state)
{
	(void)state;
	char buf[8192];
	vms_stats_reset_events();
	vms_count_call(VMS_CALL_mmap);
	vms_count_call(VMS_CALL_mmap);
	vms_count_fault(VMS_FAULT_zero_fill);
	vms_gauge_add(&vms_stats.resident_pages, 5);
	vms_gauge_add(&vms_stats.resident_pages, -3);
	size_t n = vms_stats_format_json(buf, sizeof buf);
	assert_true(n > 0 && n < sizeof buf - 1);
	assert_non_null(strstr(buf, "\"mmap\": 2"));
	assert_non_null(strstr(buf, "\"zero_fill\": 1"));
	assert_non_null(strstr(buf, "\"resident\": {\"pages\": 2, \"peak_pages\": 5"));
	const char *keys[] = { "\"calls\"", "\"faults\"", "\"swap\"", "\"out_pages\"",
			       "\"in_pages\"", "\"slots_peak\"", "\"limit_pages\"", "\"vmas\"",
			       "\"peak\"", "\"genuine\"", "\"cow\"", "\"swap_in\"", "\"file\"",
			       "\"malloc_usable_size\"", "\"posix_madvise\"" };
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		assert_non_null(strstr(buf, keys[i]));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_size_accepts_documented_forms),
		cmocka_unit_test(test_parse_size_rejects_malformed),
		cmocka_unit_test(test_fmt_formats_like_snprintf),
		cmocka_unit_test(test_fmt_size_round_trips),
		cmocka_unit_test(test_option_values_validated),
		cmocka_unit_test(test_options_load_keeps_default_on_bad_value),
		cmocka_unit_test(test_bad_value_message_names_variable_and_form),
		cmocka_unit_test(test_fault_inject_forms),
		cmocka_unit_test(test_stats_path_expansion),
		cmocka_unit_test(test_stats_json_has_every_documented_key),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
