package wire

import (
	"regexp"
	"slices"
	"strings"
)

// Streams, subjects and buckets the runtime keeps for itself.
const (
	// DeadLetterStream keeps every event that could not be processed.
	DeadLetterStream  = "NATSFN_DLQ"
	DeadLetterSubject = "natsfn.dlq"
	// AdvisoryStream keeps JetStream's MAX_DELIVERIES advisories until a
	// replica turns each into a dead letter.
	AdvisoryStream  = "NATSFN_ADVISORIES"
	AdvisorySubject = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES"
	// ClaimsBucket records which logical events each function has started
	// and finished.
	ClaimsBucket = "natsfn_claims"
)

// Why an event was dead-lettered.
const (
	ClassPermanent = "permanent" // invalid payload or a 4xx: retrying cannot help
	ClassExhausted = "exhausted" // transient failures on every one of MaxDeliver deliveries
	ClassCrashed   = "crashed"   // deliveries ran out without any answer: replicas died or stalled
)

var durableUnsafe = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// DurableName is the consumer name of a (function, trigger) pair; KEDA and
// `nats consumer info` refer to it.
func DurableName(service, function, subject string) string {
	return durableUnsafe.ReplaceAllString(service+"_"+function+"_"+subject, "_")
}

// AdvisoryDurable is the consumer of the advisories of the given services'
// triggers; each deployment watches only its own consumers, so it needs no
// rights on anyone else's.
func AdvisoryDurable(services ...string) string {
	sorted := slices.Clone(services)
	slices.Sort(sorted)
	return "natsfn_dlq_" + durableUnsafe.ReplaceAllString(strings.Join(sorted, "_"), "_")
}

// Schedule triggers: the stream that keeps every scheduled function's timer
// (ScheduleSubject) and its last tick (TickSubject).
const ScheduleStream = "NATSFN_SCHEDULES"

// ScheduleSubjects are where a scheduled function's timer and ticks live.
func ScheduleSubjects(service, function string) (schedule, tick string) {
	return "natsfn.schedule." + service + "." + function, "natsfn.tick." + service + "." + function
}

// WatchSubject is the subject of a bucket's keys matching keys (default
// every key): what a watch trigger's consumer filters on.
func WatchSubject(bucket, keys string) string {
	if keys == "" {
		keys = ">"
	}
	return "$KV." + bucket + "." + keys
}
