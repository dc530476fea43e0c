package natsfn

// crashPoint is called at the places where a crash is most dangerous for
// exactly-once effects: "event-started" (an event reached its function) and
// "outputs-published" (an invocation's events are stored, its input not yet
// acknowledged). It does nothing in production; tests set it to kill the
// process there, to prove that nothing is lost and nothing doubled.
var crashPoint = func(point string) {}
