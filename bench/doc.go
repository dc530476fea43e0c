// Package bench is the benchmark suite behind `task bench` and BENCHMARKS.md:
// natsfn measured side by side with what a team would write by hand, on the
// same embedded server, in one run. Its benchmarks come in pairs (bare and
// runtime, one and three replicas) whose ratio internal/benchratio prints.
package bench
