// Package chaos proves "nothing lost, nothing doubled" under the faults
// production brings: `task chaos` runs the system as separate processes
// (NATS, two replicas of every function, the gateway, the payment
// simulator), drives steady load, and meanwhile kills function replicas
// with SIGKILL, hard-restarts NATS (or a cluster node), and takes the
// payment provider down long enough to open the circuit breaker. Then it
// checks the invariants and prints them. The test is behind the build tag
// "chaos"; NATSFN_CHAOS_DURATION sets how long the load runs.
package chaos
