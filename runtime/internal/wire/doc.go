// Package wire is what travels between natsfn's parts: the headers events,
// replies and dead letters carry, the names of the streams, buckets and
// consumers the runtime keeps, the error a function returns and how a
// request's failure is classified. The runtime (package natsfn), its
// client, the dead-letter client and the authorization generator all speak
// it; none of it is for function authors, so it is internal.
package wire
