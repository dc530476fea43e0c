package natsfn_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	natsfn "github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/runtime/client"
	"github.com/natsfn/natsfn/runtime/embedded"
	"github.com/natsfn/natsfn/runtime/internal/wire"
)

type (
	writeIn struct {
		ID    string `json:"id" jsonschema:"pattern=^[a-z0-9-]+$"`
		Delay int    `json:"delay_s,omitempty"`
	}
	writeOut struct {
		Conflict bool   `json:"conflict"`
		Value    string `json:"value,omitempty"`
		Seq      uint64 `json:"seq,omitempty"`
	}
	note struct {
		Text string `json:"text"`
	}
)

// writeService writes records, events, schedules and keys as the saga's
// steps do.
func writeService() natsfn.Service {
	put := func(ctx context.Context, in writeIn) (writeOut, error) {
		_, err := natsfn.Put(ctx, "rec."+in.ID, note{Text: "first"}, 0)
		if natsfn.IsConflict(err) {
			return writeOut{Conflict: true}, nil
		}
		if err != nil {
			return writeOut{}, err
		}
		return writeOut{}, natsfn.Emit(ctx, "notes.written.v1", in.ID, note{Text: in.ID})
	}
	read := func(ctx context.Context, in writeIn) (writeOut, error) {
		v, seq, err := natsfn.Record[note](ctx, "NOTES", "rec."+in.ID)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return writeOut{}, natsfn.NotFound("no record %s", in.ID)
		}
		return writeOut{Value: v.Text, Seq: seq}, err
	}
	update := func(ctx context.Context, in writeIn) (writeOut, error) {
		_, seq, err := natsfn.Record[note](ctx, "NOTES", "rec."+in.ID)
		if err != nil {
			return writeOut{}, err
		}
		_, err = natsfn.Put(ctx, "rec."+in.ID, note{Text: "second"}, seq)
		return writeOut{}, err
	}
	schedule := func(ctx context.Context, in writeIn) (writeOut, error) {
		at := time.Now().Add(time.Duration(in.Delay) * time.Second)
		// Twice, as a redelivery would: the second is a no-op.
		for range 2 {
			if err := natsfn.Schedule(ctx, "rec."+in.ID+".due", at, "notes.due.v1", in.ID, note{Text: in.ID}); err != nil {
				return writeOut{}, err
			}
		}
		return writeOut{}, nil
	}
	// A schedule the stream refuses (its target is no subject of the
	// stream): sent without waiting, it still fails the invocation.
	refused := func(ctx context.Context, in writeIn) (writeOut, error) {
		err := natsfn.Schedule(ctx, "rec."+in.ID+".due", time.Now().Add(time.Hour), "elsewhere.due.v1", "", note{Text: in.ID})
		return writeOut{}, err
	}
	cancel := func(ctx context.Context, in writeIn) (writeOut, error) {
		return writeOut{}, natsfn.PurgeSchedule(ctx, "NOTES", "rec."+in.ID+".due")
	}
	keys := func(ctx context.Context, in writeIn) (writeOut, error) {
		kv, err := natsfn.KV(ctx, "notes")
		if err != nil {
			return writeOut{}, err
		}
		rev, _, err := natsfn.PutKey(ctx, kv, "k."+in.ID, note{Text: "held"}, 0, "put|"+in.ID)
		if err != nil {
			return writeOut{}, err
		}
		// A redelivery repeats the write after reading the key again (the
		// compare-and-set comes first: with the old revision it would
		// conflict): it succeeds and changes nothing.
		again, repeated, err := natsfn.PutKey(ctx, kv, "k."+in.ID, note{Text: "held"}, rev, "put|"+in.ID)
		if err != nil || !repeated || again != rev {
			return writeOut{}, fmt.Errorf("repeated put: rev %d/%d repeated %v: %v", rev, again, repeated, err)
		}
		if err := natsfn.DeleteKey(ctx, kv, "k."+in.ID, rev, time.Duration(in.Delay)*time.Second, "settled"); err != nil {
			return writeOut{}, err
		}
		_, _, reason, err := natsfn.ReadKey(ctx, kv, "k."+in.ID)
		if err != nil || reason == "" {
			return writeOut{}, errors.New("no delete marker")
		}
		_, _, err = natsfn.PutKey(ctx, kv, "k."+in.ID, note{Text: "late"}, 0, "")
		return writeOut{Conflict: natsfn.IsConflict(err), Value: reason}, nil
	}
	fn := func(name string, f func(context.Context, writeIn) (writeOut, error)) *natsfn.Function {
		return natsfn.Func(natsfn.FuncConfig{Name: name, Emits: []string{"notes.written.v1"}, Writes: []string{"rec.>"}, Buckets: []string{"notes"}}, f)
	}
	return natsfn.Service{
		Name: "writer", Version: "1.0.0",
		Streams: []natsfn.Stream{{Name: "NOTES", Subjects: []string{"notes.*.v1", "rec.>"}, MaxAge: 2 * time.Second}},
		Buckets: []natsfn.Bucket{{Name: "notes"}},
		Functions: []*natsfn.Function{
			fn("put", put), fn("read", read), fn("update", update), fn("schedule", schedule), fn("refused", refused), fn("cancel", cancel), fn("keys", keys),
		},
	}
}

func TestWrites(t *testing.T) {
	srv := startNATS(t)
	startRuntime(t, srv.ClientURL(), natsfn.Config{Events: natsfn.EventsConfig{Duplicates: time.Second}}, writeService())
	nc := connectClient(t, srv)
	js := jsFor(t, nc)
	call := func(fn string, in writeIn) writeOut {
		t.Helper()
		out, err := client.Call[writeOut](ctxFor(t, 10*time.Second), nc, "writer."+fn, in)
		if err != nil {
			t.Fatalf("%s: %v", fn, err)
		}
		return out
	}
	stream, err := js.Stream(context.Background(), "NOTES")
	if err != nil {
		t.Fatal(err)
	}
	count := func(subject string) uint64 {
		info, err := stream.Info(context.Background(), jetstream.WithSubjectFilter(subject))
		if err != nil {
			t.Fatal(err)
		}
		return info.State.Subjects[subject]
	}

	t.Run("a record is created once and updated by compare-and-set", func(t *testing.T) {
		if out := call("put", writeIn{ID: "a"}); out.Conflict {
			t.Fatal("the first write conflicted")
		}
		// The record exists: the second create loses, and announces nothing.
		if out := call("put", writeIn{ID: "a"}); !out.Conflict {
			t.Fatal("a second write of a new record did not conflict")
		}
		if n := count("notes.written.v1"); n != 1 {
			t.Fatalf("%d events for one record", n)
		}
		call("update", writeIn{ID: "a"})
		if out := call("read", writeIn{ID: "a"}); out.Value != "second" {
			t.Fatalf("record %+v", out)
		}
		if n := count("rec.a"); n != 1 {
			t.Fatalf("rec.a holds %d messages; an update replaces the value", n)
		}
	})

	t.Run("records outlive the stream's max age", func(t *testing.T) {
		eventually(t, 20*time.Second, "the event ages out", func() bool { return count("notes.written.v1") == 0 })
		if out := call("read", writeIn{ID: "a"}); out.Value != "second" {
			t.Fatalf("record after its events aged out: %+v", out)
		}
	})

	t.Run("schedules fire unless purged", func(t *testing.T) {
		call("schedule", writeIn{ID: "purged", Delay: 1})
		call("cancel", writeIn{ID: "purged"})
		call("schedule", writeIn{ID: "fired", Delay: 2})
		// The server stores what a schedule produces in the stream (no core
		// publish): consumers get it, as the saga's expire step does. The
		// fired one is due after the purged one: when it is there, the
		// purged one would be too.
		eventually(t, 20*time.Second, "the schedule fires", func() bool { return count("notes.due.v1") >= 1 })
		m, err := stream.GetLastMsgForSubject(context.Background(), "notes.due.v1")
		if err != nil {
			t.Fatal(err)
		}
		if string(m.Data) != `{"text":"fired"}` || m.Header.Get(wire.HeaderCEType) != "notes.due.v1" || m.Header.Get("Nats-TTL") == "never" {
			t.Fatalf("fired %s %v", m.Data, m.Header)
		}
		if n := count("notes.due.v1"); n != 1 {
			t.Fatalf("%d due events; the purged schedule fired too", n)
		}
	})

	t.Run("a refused schedule fails the invocation", func(t *testing.T) {
		_, err := client.Call[writeOut](ctxFor(t, 10*time.Second), nc, "writer.refused", writeIn{ID: "refused"})
		if err == nil || !strings.Contains(err.Error(), "schedules target is invalid") {
			t.Fatalf("a refused schedule answered %v", err)
		}
		if n := count("rec.refused.due"); n != 0 {
			t.Fatalf("%d refused schedules stored", n)
		}
	})

	t.Run("a deleted key's marker says why, blocks a late create, then goes", func(t *testing.T) {
		out := call("keys", writeIn{ID: "k1", Delay: 1})
		if !out.Conflict || out.Value != "settled" {
			t.Fatalf("marker %+v", out)
		}
		kvStream, _ := js.Stream(context.Background(), "KV_notes")
		eventually(t, 20*time.Second, "the marker expires", func() bool {
			_, err := kvStream.GetLastMsgForSubject(context.Background(), "$KV.notes.k.k1")
			return errors.Is(err, jetstream.ErrMsgNotFound)
		})
	})
}

// A schedule lives in its stream, not in a replica's timer: it fires after
// the server restarted, and while no replica runs.
func TestSchedulesSurviveAServerRestart(t *testing.T) {
	dir := t.TempDir()
	srv, err := embedded.Start(embedded.Config{StoreDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	port := srv.Addr().(*net.TCPAddr).Port
	r := startRuntime(t, srv.ClientURL(), natsfn.Config{Events: natsfn.EventsConfig{Duplicates: time.Second}}, writeService())
	nc := connectClient(t, srv)
	if _, err := client.Call[writeOut](ctxFor(t, 10*time.Second), nc, "writer.schedule", writeIn{ID: "restart", Delay: 3}); err != nil {
		t.Fatal(err)
	}
	if err := r.shutdown(t); err != nil {
		t.Fatal(err)
	}
	srv.Shutdown()
	srv.WaitForShutdown()
	srv, err = embedded.Start(embedded.Config{StoreDir: dir, Port: port})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	js := jsFor(t, connectClient(t, srv))
	eventually(t, 20*time.Second, "the schedule fires after the restart, with no replica running", func() bool {
		s, err := js.Stream(context.Background(), "NOTES")
		if err != nil {
			return false
		}
		_, err = s.GetLastMsgForSubject(context.Background(), "notes.due.v1")
		return err == nil
	})
}
