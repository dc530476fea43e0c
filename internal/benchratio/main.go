// Command benchratio reads `go test -bench` output and prints the ratios of
// benchmark pairs, medians over -count runs: NAME/runtime against NAME/bare
// (natsfn against what it is compared with), NAME/three against NAME/one
// (scaling), and the concurrency designs against the old dispatcher. Throughput is compared by ns/op; every rate metric
// ("x/s") both sides report is compared too, and cpu-ns/op as a cost.
package main

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"

	"golang.org/x/perf/benchfmt"
)

// pairs names the two sides of each comparison: baseline, then subject.
// dispatcher/readers and dispatcher/lanes compare the concurrency designs
// (BenchmarkConcurrencyDesigns): the runtime's is readers.
var pairs = [][2]string{{"bare", "runtime"}, {"raw", "runtime"}, {"one", "three"}, {"dispatcher", "readers"}, {"dispatcher", "lanes"}}

// procsSuffix is the -GOMAXPROCS suffix go test adds to benchmark names.
var procsSuffix = regexp.MustCompile(`-\d+$`)

func main() {
	samples := map[string]map[string][]float64{} // name -> unit -> values
	r := benchfmt.NewReader(os.Stdin, "stdin")
	for r.Scan() {
		res, ok := r.Result().(*benchfmt.Result)
		if !ok {
			continue
		}
		name := procsSuffix.ReplaceAllString(string(res.Name), "")
		if samples[name] == nil {
			samples[name] = map[string][]float64{}
		}
		for _, v := range res.Values {
			samples[name][v.Unit] = append(samples[name][v.Unit], v.Value)
		}
	}
	if err := r.Err(); err != nil {
		fmt.Fprintln(os.Stderr, "benchratio:", err)
		os.Exit(1)
	}
	var lines []string
	for name := range samples {
		for _, p := range pairs {
			base, ok := strings.CutSuffix(name, "/"+p[1])
			if !ok || samples[base+"/"+p[0]] == nil {
				continue
			}
			a, b := samples[base+"/"+p[0]], samples[name]
			line := fmt.Sprintf("%-28s %s/%s throughput %5.2fx", base, p[1], p[0], median(a["sec/op"])/median(b["sec/op"]))
			var units []string
			for u := range b {
				if strings.HasSuffix(u, "/s") && a[u] != nil {
					units = append(units, u)
				}
			}
			sort.Strings(units)
			for _, u := range units {
				line += fmt.Sprintf("   %s %5.2fx (%.0f vs %.0f)", u, median(b[u])/median(a[u]), median(b[u]), median(a[u]))
			}
			for _, q := range []string{"p50-ms", "p99-ms"} {
				if a[q] != nil && b[q] != nil {
					line += fmt.Sprintf("   %s %.2f vs %.2f", q, median(b[q]), median(a[q]))
				}
			}
			if a["cpu-sec/op"] != nil && b["cpu-sec/op"] != nil {
				line += fmt.Sprintf("   cpu/op %5.2fx", median(b["cpu-sec/op"])/median(a["cpu-sec/op"]))
			}
			lines = append(lines, line)
		}
		for u, v := range samples[name] {
			if strings.HasPrefix(u, "rss-") { // benchfmt may have tidied MB into bytes
				mb := median(v)
				if strings.HasSuffix(u, "-B") {
					mb /= 1 << 20
				}
				lines = append(lines, fmt.Sprintf("%-28s %.1f MiB resident", name, mb))
			}
		}
	}
	if len(lines) == 0 {
		fmt.Fprintln(os.Stderr, "benchratio: no benchmark pairs (NAME/bare and NAME/runtime, NAME/one and NAME/three) in the input")
		os.Exit(1)
	}
	sort.Strings(lines)
	for _, l := range lines {
		fmt.Println(l)
	}
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}
