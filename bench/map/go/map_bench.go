// map_bench.go — the Go 1.19 side of `make bench-map`.
//
// It runs the same workloads as bench/map/map_bench.c, over the same keys
// (Marsaglia xorshift64 from seed 88172645463325252), so that the C port
// of Go's classic map (libgomap) can be compared with the runtime map it
// copies. Every workload prints one line:
//
//	<name> ns=<best ns per op> sum=<checksum> ops=<ops per rep> reps=<r> all=<ns,ns,...> cpu=<best>
//
// "ns" is the best (minimum) of the repetitions of total wall time / ops;
// "cpu" the same with the process CPU time (every thread, GC included),
// which a busy shared machine disturbs less. The
// checksum must be identical to the C program's: it proves both did the
// same work. runtime.GC() runs before every repetition (not timed); GC
// triggered by the timed work itself is part of Go's cost, as in real code.
//
// Non-goals: testing.B statistics (the driver script compares the two
// languages under the same conditions instead), other key types.
//
// Build (GOPATH mode, no module): go build -o map_bench_go map_bench.go
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

const seed = 88172645463325252

var (
	n       int
	keys    []uint64 // keys[i]: the i-th xorshift64 output
	miss    []uint64 // the next n outputs: disjoint from keys
	strsA   []string // 16-char lowercase hex of keys[i]: inserted
	strsB   []string // the same text in separate memory: looked up
	sinkMap map[uint64]uint64
)

func xorshift64(x *uint64) uint64 {
	*x ^= *x << 13
	*x ^= *x >> 7
	*x ^= *x << 17
	return *x
}

func hex16(buf []byte, v uint64) {
	const digits = "0123456789abcdef"
	for i := 15; i >= 0; i-- {
		buf[i] = digits[v&15]
		v >>= 4
	}
}

func genKeys(log2n uint) {
	n = 1 << log2n
	keys = make([]uint64, n)
	miss = make([]uint64, n)
	x := uint64(seed)
	for i := range keys {
		keys[i] = xorshift64(&x)
	}
	for i := range miss {
		miss[i] = xorshift64(&x)
	}
	// Two separate backing arrays: lookups must compare bytes, not just
	// find the very same pointer (Go checks pointer equality first).
	bufA := make([]byte, 16*n)
	bufB := make([]byte, 16*n)
	strsA = make([]string, n)
	strsB = make([]string, n)
	for i, k := range keys {
		hex16(bufA[16*i:16*i+16], k)
		hex16(bufB[16*i:16*i+16], k)
	}
	sa, sb := string(bufA), string(bufB)
	for i := range keys {
		strsA[i] = sa[16*i : 16*i+16]
		strsB[i] = sb[16*i : 16*i+16]
	}
}

// The timed region: wall time (returned) and the process CPU time of all
// threads, GC workers included (left in lastCPU).
var cpuStart, lastCPU int64

func processCPU() int64 {
	var ts syscall.Timespec
	const clockProcessCPUTimeID = 2
	syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockProcessCPUTimeID, uintptr(unsafe.Pointer(&ts)), 0)
	return ts.Nano()
}

func timerStart() time.Time {
	cpuStart = processCPU()
	return time.Now()
}

func timerStop(t0 time.Time) time.Duration {
	el := time.Since(t0)
	lastCPU = processCPU() - cpuStart
	return el
}

// Untimed helpers.

func buildU64(hint int) map[uint64]uint64 {
	m := make(map[uint64]uint64, hint)
	for i, k := range keys {
		m[k] = uint64(i + 1)
	}
	return m
}

// checkU64 sums v ^ k over ks (all must be present) plus len(m).
func checkU64(m map[uint64]uint64, ks []uint64) uint64 {
	var s uint64
	for _, k := range ks {
		if v, ok := m[k]; ok {
			s += v ^ k
		}
	}
	return s + uint64(len(m))
}

func checkStr(m map[string]uint64) uint64 {
	var s uint64
	for i, k := range strsB {
		if v, ok := m[k]; ok {
			s += v ^ keys[i]
		}
	}
	return s + uint64(len(m))
}

// Workloads: each returns (elapsed, checksum, ops) for one repetition.

func insertU64(hint int) (time.Duration, uint64, int) {
	t0 := timerStart()
	m := make(map[uint64]uint64, hint)
	for i, k := range keys {
		m[k] = uint64(i + 1)
	}
	el := timerStop(t0)
	return el, checkU64(m, keys), n
}

func insertU64NoHint() (time.Duration, uint64, int) { return insertU64(0) }
func insertU64Hint() (time.Duration, uint64, int)   { return insertU64(n) }

func lookupU64(ks []uint64) (time.Duration, uint64, int) {
	m := buildU64(n)
	runtime.GC()
	var s uint64
	t0 := timerStart()
	for _, k := range ks {
		if v, ok := m[k]; ok {
			s += v ^ k
		}
	}
	el := timerStop(t0)
	return el, s + uint64(len(m)), n
}

func lookupU64Hit() (time.Duration, uint64, int)  { return lookupU64(keys) }
func lookupU64Miss() (time.Duration, uint64, int) { return lookupU64(miss) }

// deleteInsertU64: steady-state churn on a map of n entries. One op is one
// delete of an old key plus one insert of a new one.
func deleteInsertU64() (time.Duration, uint64, int) {
	m := buildU64(n)
	runtime.GC()
	t0 := timerStart()
	for i, k := range keys {
		delete(m, k)
		m[miss[i]] = uint64(n + i + 1)
	}
	el := timerStop(t0)
	return el, checkU64(m, miss), n
}

func insertStrNoHint() (time.Duration, uint64, int) {
	t0 := timerStart()
	m := make(map[string]uint64)
	for i, k := range strsA {
		m[k] = uint64(i + 1)
	}
	el := timerStop(t0)
	return el, checkStr(m), n
}

func lookupStrHit() (time.Duration, uint64, int) {
	m := make(map[string]uint64, n)
	for i, k := range strsA {
		m[k] = uint64(i + 1)
	}
	runtime.GC()
	var s uint64
	t0 := timerStart()
	for i, k := range strsB {
		if v, ok := m[k]; ok {
			s += v ^ keys[i]
		}
	}
	el := timerStop(t0)
	return el, s + uint64(len(m)), n
}

func iterateU64() (time.Duration, uint64, int) {
	m := buildU64(n)
	runtime.GC()
	var s uint64
	t0 := timerStart()
	for k, v := range m {
		s += k ^ v
	}
	el := timerStop(t0)
	return el, s + uint64(len(m)), n
}

// smallMap8Insert: n/8 short-lived maps of 8 entries each (create without
// hint, 8 inserts, one lookup, drop). The map escapes through a global, as
// real code's maps do; collecting it is part of the cost. One op is one key.
func smallMap8Insert() (time.Duration, uint64, int) {
	var s uint64
	t0 := timerStart()
	for j := 0; j < n; j += 8 {
		m := make(map[uint64]uint64)
		for i := j; i < j+8; i++ {
			m[keys[i]] = uint64(i + 1)
		}
		s += m[keys[j]] + uint64(len(m))
		sinkMap = m
	}
	el := timerStop(t0)
	sinkMap = nil
	return el, s, n
}

type workload struct {
	name string
	run  func() (time.Duration, uint64, int)
}

var workloads = []workload{
	{"insert_u64_nohint", insertU64NoHint},
	{"insert_u64_hint", insertU64Hint},
	{"lookup_u64_hit", lookupU64Hit},
	{"lookup_u64_miss", lookupU64Miss},
	{"delete_insert_u64", deleteInsertU64},
	{"insert_str_nohint", insertStrNoHint},
	{"lookup_str_hit", lookupStrHit},
	{"iterate_u64", iterateU64},
	{"small_map_8_insert", smallMap8Insert},
}

func main() {
	reps := flag.Int("r", 5, "repetitions per workload (best is reported)")
	log2n := flag.Uint("n", 20, "log2 of the number of keys (>= 3)")
	list := flag.Bool("l", false, "list the workloads and exit")
	flag.Parse()
	if *list {
		for _, w := range workloads {
			fmt.Println(w.name)
		}
		return
	}
	if *log2n < 3 || *log2n > 28 || *reps < 1 {
		fmt.Fprintln(os.Stderr, "map_bench_go: bad -n or -r")
		os.Exit(2)
	}
	want := map[string]bool{}
	for _, a := range flag.Args() {
		want[a] = true
	}
	for _, a := range flag.Args() {
		found := false
		for _, w := range workloads {
			found = found || w.name == a
		}
		if !found {
			fmt.Fprintf(os.Stderr, "map_bench_go: unknown workload %q\n", a)
			os.Exit(2)
		}
	}
	genKeys(*log2n)
	for _, w := range workloads {
		if len(want) > 0 && !want[w.name] {
			continue
		}
		best, bestCPU := -1.0, -1.0
		var sum uint64
		var ops int
		all := make([]string, 0, *reps)
		for r := 0; r < *reps; r++ {
			runtime.GC()
			el, s, o := w.run()
			ns := float64(el.Nanoseconds()) / float64(o)
			cpu := float64(lastCPU) / float64(o)
			if bestCPU < 0 || cpu < bestCPU {
				bestCPU = cpu
			}
			if r > 0 && s != sum {
				fmt.Fprintf(os.Stderr, "map_bench_go: %s: checksum changed between repetitions\n", w.name)
				os.Exit(1)
			}
			sum, ops = s, o
			if best < 0 || ns < best {
				best = ns
			}
			all = append(all, fmt.Sprintf("%.2f", ns))
		}
		fmt.Printf("%s ns=%.2f sum=%d ops=%d reps=%d all=%s cpu=%.2f\n", w.name, best, sum, ops, *reps,
			strings.Join(all, ","), bestCPU)
	}
}
