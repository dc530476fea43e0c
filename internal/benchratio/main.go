// Command benchratio reads `go test -bench` output and prints, for every
// benchmark pair NAME/bare and NAME/runtime, the throughput and CPU ratios
// of the runtime against the bare handler (medians over -count runs).
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
	var pairs []string
	for name := range samples {
		if base, ok := strings.CutSuffix(name, "/runtime"); ok && samples[base+"/bare"] != nil {
			pairs = append(pairs, base)
		}
	}
	sort.Strings(pairs)
	if len(pairs) == 0 {
		fmt.Fprintln(os.Stderr, "benchratio: no NAME/bare and NAME/runtime pairs in the input")
		os.Exit(1)
	}
	fmt.Printf("%-40s %12s %12s %14s %14s\n", "work", "bare req/s", "runtime req/s", "throughput x", "cpu/req x")
	for _, p := range pairs {
		bare, rt := samples[p+"/bare"], samples[p+"/runtime"]
		bns, rns := median(bare["sec/op"]), median(rt["sec/op"])
		fmt.Printf("%-40s %12.0f %12.0f %14.2f %14.2f\n", p, 1/bns, 1/rns, bns/rns,
			median(rt["cpu-sec/op"])/median(bare["cpu-sec/op"]))
	}
}

// procsSuffix is the -GOMAXPROCS suffix go test adds to benchmark names.
var procsSuffix = regexp.MustCompile(`-\d+$`)

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}
