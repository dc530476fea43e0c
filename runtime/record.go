package natsfn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/natsfn/natsfn/runtime/internal/wire"
)

// Record reads the record kept on subject of stream (written by Put):
// its value and its sequence, to compare and set on. A subject that holds
// nothing returns jetstream.ErrKeyNotFound. Declared streams serve such reads from
// their leader; while a replicated stream elects one, the read asks again
// (as bucket reads do).
func Record[T any](ctx context.Context, stream, subject string) (T, uint64, error) {
	var v T
	rt := runtimeOf(ctx)
	if rt == nil {
		return v, 0, fmt.Errorf("record %s: not inside a function", subject)
	}
	m, err := lastMsg(ctx, rt, stream, subject)
	if err != nil {
		return v, 0, err
	}
	if err := json.Unmarshal(m.Data, &v); err != nil {
		return v, 0, fmt.Errorf("%s/%s: %w", stream, subject, err)
	}
	return v, m.Sequence, nil
}

// lastMsg reads the last message on subject of stream, asking again while
// no answer comes (a replicated stream electing its leader).
func lastMsg(ctx context.Context, rt *Runtime, stream, subject string) (*jetstream.RawStreamMsg, error) {
	s, err := rt.stream(ctx, stream)
	if err != nil {
		return nil, err
	}
	for {
		actx, cancel := context.WithTimeout(ctx, readAttempt)
		m, err := s.GetLastMsgForSubject(actx, subject)
		cancel()
		switch {
		case errors.Is(err, jetstream.ErrMsgNotFound):
			return nil, jetstream.ErrKeyNotFound
		case err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded):
			continue
		case err != nil:
			return nil, err
		}
		return m, nil
	}
}

// stream returns a handle on a stream, looked up once per runtime.
func (rt *Runtime) stream(ctx context.Context, name string) (jetstream.Stream, error) {
	if s, ok := rt.streams.Load(name); ok {
		return s.(jetstream.Stream), nil
	}
	s, err := rt.js.Stream(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", name, err)
	}
	rt.streams.Store(name, s)
	return s, nil
}

// runtimeOf finds the runtime running the function of ctx.
func runtimeOf(ctx context.Context) *Runtime {
	if st := invocationOf(ctx); st != nil {
		return st.rt
	}
	return nil
}

// writer finds the runtime of the function of ctx, which must declare
// subject in its FuncConfig.Writes.
func writer(ctx context.Context, subject string) (*Runtime, error) {
	st := invocationOf(ctx)
	if st == nil {
		return nil, fmt.Errorf("%s: not inside a function", subject)
	}
	if !slices.ContainsFunc(st.fn.Writes, func(p string) bool { return wire.SubjectsCollide(p, subject) }) {
		return nil, configError("function %s writes %s, which is not in its FuncConfig.Writes", st.fn.Name, subject)
	}
	return st.rt, nil
}
