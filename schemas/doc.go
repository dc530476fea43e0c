// Package schemas holds the contracts between the saga's steps: the Go
// structs of every event and request, and the JSON schemas generated from
// them. Functions and the gateway import this package; it imports nothing of
// theirs.
package schemas
