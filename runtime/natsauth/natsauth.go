// Package natsauth derives the least NATS permissions each natsfn service
// needs from its definition, and renders them as a nats-server
// authorization block (`natsfn nats-config`). Operators need it; a running
// function does not.
package natsauth

import (
	"fmt"
	"slices"
	"strings"

	natsfn "github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/runtime/internal/wire"
)

// Permissions is what one NATS user may publish and subscribe to.
type Permissions struct {
	Publish        []string
	Subscribe      []string
	AllowResponses bool // may answer requests, whatever their reply subject
}

// For derives the least a service's replicas need from its
// definition: its request subjects, the events it declares
// (Emits, Result) and the requests it makes (Calls), the JetStream API
// calls for its own streams, consumers and buckets, its dead letters, its
// share of the claims bucket, micro discovery and its own inbox
// ("_INBOX.<service>", see natsfn.Config.InboxPrefix). all is every service of
// the application: it says which stream keeps each trigger's subject.
func For(s natsfn.Service, all []natsfn.Service) (Permissions, error) {
	p := Permissions{AllowResponses: true}
	pub := func(subj ...string) { p.Publish = append(p.Publish, subj...) }
	sub := func(subj ...string) { p.Subscribe = append(p.Subscribe, subj...) }
	stream := func(name string) {
		pub("$JS.API.STREAM.CREATE."+name, "$JS.API.STREAM.UPDATE."+name, "$JS.API.STREAM.INFO."+name)
	}
	durable := func(streamName, name string) {
		pub("$JS.API.CONSUMER.CREATE."+streamName+"."+name, "$JS.API.CONSUMER.CREATE."+streamName+"."+name+".>",
			"$JS.API.CONSUMER.DURABLE.CREATE."+streamName+"."+name, "$JS.API.CONSUMER.INFO."+streamName+"."+name,
			"$JS.API.CONSUMER.MSG.NEXT."+streamName+"."+name, "$JS.ACK."+streamName+"."+name+".>")
	}
	bucket := func(name, keys string) {
		stream("KV_" + name)
		pub("$KV."+name+"."+keys, "$JS.API.DIRECT.GET.KV_"+name+".$KV."+name+"."+keys)
	}
	ownBucket := func(name string) {
		bucket(name, ">")
		pub("$JS.API.STREAM.MSG.GET.KV_" + name) // reads go to the leader (see declareBucket)
	}

	pub("$JS.API.INFO", "$JS.API.STREAM.NAMES")
	sub("$SRV.>", "_INBOX."+s.Name+".>")
	for _, st := range s.Streams {
		stream(st.Name)
	}
	for _, b := range s.Buckets {
		ownBucket(b.Name)
		// Listing keys runs an ordered consumer on the bucket's stream.
		pub("$JS.API.CONSUMER.CREATE.KV_"+b.Name+".>", "$JS.API.CONSUMER.DELETE.KV_"+b.Name+".>",
			"$JS.API.CONSUMER.INFO.KV_"+b.Name+".>", "$JS.FC.KV_"+b.Name+".>")
	}
	var triggers int
	for _, f := range s.Functions {
		sub(s.Subject(f))
		pub(f.Emits...)
		pub(f.Calls...)
		pub(f.Writes...)
		for _, w := range f.Writes {
			st, err := streamFor(w, all)
			if err != nil {
				return p, fmt.Errorf("service %s, function %s: %w", s.Name, f.Name, err)
			}
			pub("$JS.API.STREAM.MSG.GET."+st, "$JS.API.DIRECT.GET."+st+"."+w, "$JS.API.STREAM.PURGE."+st, "$JS.API.STREAM.INFO."+st)
		}
		if f.Result != "" {
			pub(f.Result)
		}
		if f.Watch != "" {
			kvStream := "KV_" + f.Watch
			durable(kvStream, wire.DurableName(s.Name, f.Name, wire.WatchSubject(f.Watch, f.WatchKeys)))
			pub("$JS.API.STREAM.MSG.GET."+kvStream, "$JS.API.DIRECT.GET."+kvStream)
			triggers++
		}
		if f.Schedule != "" {
			schedule, tick := wire.ScheduleSubjects(s.Name, f.Name)
			stream(wire.ScheduleStream)
			pub(schedule, "$JS.API.DIRECT.GET."+wire.ScheduleStream+"."+schedule, "$JS.API.DIRECT.GET."+wire.ScheduleStream+"."+tick,
				"$JS.API.STREAM.MSG.GET."+wire.ScheduleStream, "$JS.API.DIRECT.GET."+wire.ScheduleStream)
			durable(wire.ScheduleStream, wire.DurableName(s.Name, f.Name, tick))
			triggers++
		}
		for _, on := range f.On {
			st, err := streamFor(on, all)
			if err != nil {
				return p, fmt.Errorf("service %s, function %s: %w", s.Name, f.Name, err)
			}
			durable(st, wire.DurableName(s.Name, f.Name, on))
			// Dead-lettering an event that exhausted its deliveries: a get by
			// sequence, direct on a one-replica stream.
			pub("$JS.API.STREAM.MSG.GET."+st, "$JS.API.DIRECT.GET."+st)
			triggers++
		}
	}
	if triggers > 0 || len(s.Streams) > 0 {
		stream(wire.DeadLetterStream)
		pub(wire.DeadLetterSubject + "." + s.Name + ".>")
		bucket(wire.ClaimsBucket, s.Name+".>")
		stream(wire.AdvisoryStream)
		durable(wire.AdvisoryStream, wire.AdvisoryDurable(s.Name))
	}
	p.Publish = dedupe(p.Publish)
	p.Subscribe = dedupe(p.Subscribe)
	return p, nil
}

// streamFor names the declared stream that keeps subject.
func streamFor(subject string, all []natsfn.Service) (string, error) {
	for _, s := range all {
		for _, st := range s.Streams {
			for _, pattern := range st.Subjects {
				if wire.SubjectsCollide(pattern, subject) {
					return st.Name, nil
				}
			}
		}
	}
	return "", fmt.Errorf("no declared stream keeps %s", subject)
}

func dedupe(list []string) []string {
	slices.Sort(list)
	return slices.Compact(list)
}

// User is one user of a generated authorization block.
type User struct {
	Name        string
	PasswordEnv string // the password is read from this environment variable when the server loads the file
	Permissions *Permissions
}

// Block renders users as a nats-server authorization block.
func Block(users []User) string {
	var b strings.Builder
	b.WriteString("# Generated by `natsfn nats-config`: one user per function service, allowed exactly\n")
	b.WriteString("# its own subjects; passwords come from the environment variables named below.\n")
	b.WriteString("authorization {\n  users: [\n")
	for _, u := range users {
		fmt.Fprintf(&b, "    {\n      user: %q\n      password: $%s\n", u.Name, u.PasswordEnv)
		if u.Permissions != nil {
			b.WriteString("      permissions: {\n")
			fmt.Fprintf(&b, "        publish: { allow: %s }\n", list(u.Permissions.Publish))
			fmt.Fprintf(&b, "        subscribe: { allow: %s }\n", list(u.Permissions.Subscribe))
			if u.Permissions.AllowResponses {
				b.WriteString("        allow_responses: true\n")
			}
			b.WriteString("      }\n")
		}
		b.WriteString("    }\n")
	}
	b.WriteString("  ]\n}\n")
	return b.String()
}

func list(subjects []string) string {
	quoted := make([]string, len(subjects))
	for i, s := range subjects {
		quoted[i] = fmt.Sprintf("%q", s)
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}
