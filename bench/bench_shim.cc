// bench/bench_shim.cc - google-benchmark behind the C API of bench/bench.h,
// and main() of bench/vmshim-bench.
//
// Owns: the mapping from the C handles (struct vms_bench_state, struct
// vms_bench) to benchmark::State and benchmark::internal::Benchmark, the
// --quick flag, and the context recorded in the JSON output (quick mode,
// LD_PRELOAD and the VMSHIM_* settings of the run), which is how
// scripts/compare knows what each output file measured.
//
// The binary never links libvmshim: scripts/compare runs the same binary
// natively and with each library preloaded.

#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "bench.h"

extern char **environ;

namespace {

bool quick_mode;

benchmark::State *S(vms_bench_state *st)
{
	return reinterpret_cast<benchmark::State *>(st);
}

benchmark::internal::Benchmark *B(vms_bench *b)
{
	return reinterpret_cast<benchmark::internal::Benchmark *>(b);
}

vms_bench *H(benchmark::internal::Benchmark *b)
{
	return reinterpret_cast<vms_bench *>(b);
}

benchmark::Counter::Flags counter_flags(unsigned f)
{
	int out = 0;
	if (f & VMS_COUNTER_RATE)
		out |= benchmark::Counter::kIsRate;
	if (f & VMS_COUNTER_AVG_THREADS)
		out |= benchmark::Counter::kAvgThreads;
	if (f & VMS_COUNTER_PER_ITERATION)
		out |= benchmark::Counter::kIsIterationInvariant;
	if (f & VMS_COUNTER_AVG_ITERATIONS)
		out |= benchmark::Counter::kAvgIterations;
	if (f & VMS_COUNTER_INVERT)
		out |= benchmark::Counter::kInvert;
	return static_cast<benchmark::Counter::Flags>(out);
}

void help()
{
	std::printf(
		"vmshim-bench: libvmshim's microbenchmarks (google-benchmark).\n"
		"  --quick    smaller sizes (what scripts/compare --quick uses)\n"
		"  --limit=SIZE  the memory limit the out-of-core kernels (ooc/*)\n"
		"             size their working sets by (default: VMSHIM_MEM_LIMIT,\n"
		"             else 32M with --quick, 256M without)\n"
		"Every benchmark reports a counter ns_per_<unit>: the cost of\n"
		"one page, op or call.  Run it natively, or with LD_PRELOAD of\n"
		"libvmshim or jemalloc; scripts/compare does all of that.\n\n");
	benchmark::PrintDefaultHelp();
}

} // namespace

extern "C" {

vms_bench *vms_bench_register(const char *name, vms_bench_fn *fn)
{
	return H(benchmark::RegisterBenchmark(name, [fn](benchmark::State &s) {
		fn(reinterpret_cast<vms_bench_state *>(&s));
	}));
}

vms_bench *vms_bench_arg(vms_bench *b, int64_t arg)
{
	return H(B(b)->Arg(arg));
}

vms_bench *vms_bench_args2(vms_bench *b, int64_t a0, int64_t a1)
{
	return H(B(b)->Args({ a0, a1 }));
}

vms_bench *vms_bench_range(vms_bench *b, int64_t lo, int64_t hi, int mult)
{
	return H(B(b)->RangeMultiplier(mult)->Range(lo, hi));
}

vms_bench *vms_bench_arg_name(vms_bench *b, const char *names)
{
	std::vector<std::string> v;
	std::string all(names);
	size_t start = 0;
	for (;;) {
		size_t comma = all.find(',', start);
		v.push_back(all.substr(start, comma - start));
		if (comma == std::string::npos)
			break;
		start = comma + 1;
	}
	return H(B(b)->ArgNames(v));
}

vms_bench *vms_bench_threads(vms_bench *b, int threads)
{
	return H(B(b)->Threads(threads));
}

vms_bench *vms_bench_manual_time(vms_bench *b)
{
	return H(B(b)->UseManualTime());
}

vms_bench *vms_bench_real_time(vms_bench *b)
{
	return H(B(b)->UseRealTime());
}

vms_bench *vms_bench_unit(vms_bench *b, enum vms_bench_unit u)
{
	static const benchmark::TimeUnit units[] = {
		benchmark::kNanosecond, benchmark::kMicrosecond,
		benchmark::kMillisecond, benchmark::kSecond,
	};
	return H(B(b)->Unit(units[u]));
}

vms_bench *vms_bench_min_time(vms_bench *b, double seconds)
{
	return H(B(b)->MinTime(seconds));
}

vms_bench *vms_bench_fixed_iterations(vms_bench *b, int64_t n)
{
	return H(B(b)->Iterations(n));
}

vms_bench *vms_bench_repetitions(vms_bench *b, int n)
{
	return H(B(b)->Repetitions(n));
}

int vms_bench_keep_running(vms_bench_state *st)
{
	return S(st)->KeepRunning();
}

int64_t vms_bench_range_arg(vms_bench_state *st, int index)
{
	return S(st)->range(index);
}

int vms_bench_thread_index(vms_bench_state *st)
{
	return S(st)->thread_index();
}

int vms_bench_thread_count(vms_bench_state *st)
{
	return S(st)->threads();
}

int64_t vms_bench_iterations(vms_bench_state *st)
{
	return S(st)->iterations();
}

void vms_bench_pause(vms_bench_state *st)
{
	S(st)->PauseTiming();
}

void vms_bench_resume(vms_bench_state *st)
{
	S(st)->ResumeTiming();
}

void vms_bench_set_iteration_time(vms_bench_state *st, double seconds)
{
	S(st)->SetIterationTime(seconds);
}

void vms_bench_set_items_processed(vms_bench_state *st, int64_t n)
{
	S(st)->SetItemsProcessed(n);
}

void vms_bench_set_bytes_processed(vms_bench_state *st, int64_t n)
{
	S(st)->SetBytesProcessed(n);
}

void vms_bench_set_label(vms_bench_state *st, const char *label)
{
	S(st)->SetLabel(label);
}

void vms_bench_counter(vms_bench_state *st, const char *name, double value,
		       unsigned flags)
{
	S(st)->counters[name] = benchmark::Counter(value, counter_flags(flags));
}

void vms_bench_skip_with_error(vms_bench_state *st, const char *msg)
{
	S(st)->SkipWithError(msg);
}

void vms_bench_report_per(vms_bench_state *st, const char *unit, int64_t items)
{
	benchmark::State *s = S(st);
	s->SetItemsProcessed(items);
	// Summed over threads, divided by the run's (wall or manual) time,
	// then inverted: seconds per 1e-9 item, i.e. ns per item.
	s->counters[std::string("ns_per_") + unit] = benchmark::Counter(
		static_cast<double>(items) * 1e-9,
		benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

int vms_bench_quick(void)
{
	return quick_mode;
}

int vms_bench_smoke(void)
{
	return 0;
}

} // extern "C"

int main(int argc, char **argv)
{
	int out = 1;
	for (int i = 1; i < argc; i++) {
		if (std::strcmp(argv[i], "--quick") == 0) {
			quick_mode = true;
		} else if (std::strncmp(argv[i], "--limit=", 8) == 0) {
			size_t n = vms_parse_size(argv[i] + 8);
			if (n < vms_page_size()) {
				std::fprintf(stderr, "vmshim-bench: --limit=%s: expected a size "
					     "like 256M or 1G (K, M, G, T suffixes)\n",
					     argv[i] + 8);
				return 2;
			}
			vms_bench_set_limit(n);
		} else if (std::strcmp(argv[i], "--help") == 0 ||
			   std::strcmp(argv[i], "-h") == 0) {
			help();
			return 0;
		} else {
			argv[out++] = argv[i];
		}
	}
	argc = out;
	argv[argc] = nullptr;

	vms_bench_register_fault();
	vms_bench_register_vmcall();
	vms_bench_register_fork();
	vms_bench_register_malloc();
	vms_bench_register_ooc();

	benchmark::Initialize(&argc, argv, help);
	if (benchmark::ReportUnrecognizedArguments(argc, argv))
		return 2;

	benchmark::AddCustomContext("vms_quick", quick_mode ? "1" : "0");
	benchmark::AddCustomContext("vms_limit", std::to_string(vms_bench_limit()));
	const char *preload = std::getenv("LD_PRELOAD");
	benchmark::AddCustomContext("ld_preload", preload ? preload : "");
	for (char **e = environ; *e != nullptr; e++) {
		if (std::strncmp(*e, "VMSHIM_", 7) == 0) {
			const char *eq = std::strchr(*e, '=');
			if (eq != nullptr)
				benchmark::AddCustomContext(
					std::string(*e, eq - *e), eq + 1);
		}
	}

	benchmark::RunSpecifiedBenchmarks();
	benchmark::Shutdown();
	return 0;
}
