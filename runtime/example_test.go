package natsfn_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	natsfn "github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/runtime/client"
	"github.com/natsfn/natsfn/runtime/embedded"
)

type (
	GreetRequest struct {
		Name string `json:"name" jsonschema:"minLength=1"`
	}
	GreetReply struct {
		Greeting string `json:"greeting"`
	}
)

// A function is a plain typed Go function; the runtime serves it as a NATS
// micro endpoint with its JSON schemas, validation, logs, metrics and stats.
func Example() {
	srv, _ := embedded.Start(embedded.Config{}) // or any NATS server
	defer srv.Shutdown()

	greet := func(ctx context.Context, in GreetRequest) (GreetReply, error) {
		return GreetReply{Greeting: "Hello, " + in.Name}, nil
	}
	rt, _ := natsfn.New(natsfn.Config{URL: srv.ClientURL(), Logger: discardLogger()}, natsfn.Service{
		Name: "greeter", Version: "1.0.0", Description: "Greets people",
		Functions: []*natsfn.Function{natsfn.Func(natsfn.FuncConfig{Name: "greet"}, greet)},
	})
	ctx, stop := context.WithCancel(context.Background())
	go rt.Run(ctx) // until ctx ends; SIGTERM handling is the caller's
	<-rt.Started()

	reply, _ := client.Call[GreetReply](ctx, rt.Conn(), "greeter.greet", GreetRequest{Name: "Ada"})
	fmt.Println(reply.Greeting)
	_, err := client.Call[GreetReply](ctx, rt.Conn(), "greeter.greet", GreetRequest{})
	fmt.Println(err)
	stop()
	// Output:
	// Hello, Ada
	// invalid request: name: minLength: got 0, want 1
}

type (
	Greeted struct {
		Name string `json:"name" jsonschema:"minLength=1"`
	}
	Thanked struct {
		Name string `json:"name"`
	}
)

// A function triggered by an event emits another. What it emits is
// declared, and its service owns the stream that keeps it.
func Example_events() {
	srv, _ := embedded.Start(embedded.Config{})
	defer srv.Shutdown()

	thank := func(ctx context.Context, in Greeted) (struct{}, error) {
		return struct{}{}, natsfn.Emit(ctx, "thanks.sent.v1", in.Name, Thanked{Name: in.Name})
	}
	rt, _ := natsfn.New(natsfn.Config{URL: srv.ClientURL(), Logger: discardLogger()}, natsfn.Service{
		Name: "thanker", Version: "1.0.0",
		Streams: []natsfn.Stream{{Name: "GREETINGS", Subjects: []string{"greetings.*.v1", "thanks.*.v1"}}},
		Functions: []*natsfn.Function{natsfn.Func(natsfn.FuncConfig{Name: "thank",
			On: []string{"greetings.sent.v1"}, Emits: []string{"thanks.sent.v1"}}, thank)},
	})
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go rt.Run(ctx)
	<-rt.Started()

	nc, _ := nats.Connect(srv.ClientURL())
	defer nc.Close()
	thanks, _ := nc.SubscribeSync("thanks.sent.v1")
	js, _ := jetstream.New(nc)
	greeted, _ := client.NewEvent("greetings.sent.v1", "g-1", "example", Greeted{Name: "Ada"})
	_, _ = js.PublishMsg(ctx, greeted)

	m, _ := thanks.NextMsg(10 * time.Second)
	fmt.Println(string(m.Data), m.Header.Get("ce-id"))
	// Output:
	// {"name":"Ada"} Ada
}

// A function declares what it uses; New refuses a declaration its service
// cannot satisfy, before anything connects.
func Example_declarations() {
	reserve := func(ctx context.Context, in Greeted) (struct{}, error) {
		_, err := natsfn.KV(ctx, "stock")
		return struct{}{}, err
	}
	_, err := natsfn.New(natsfn.Config{}, natsfn.Service{
		Name: "inventory", Version: "1.0.0",
		Functions: []*natsfn.Function{natsfn.Func(natsfn.FuncConfig{Name: "reserve", Buckets: []string{"stock"}}, reserve)},
	})
	fmt.Println(errors.Is(err, natsfn.ErrConfig))
	fmt.Println(err)
	// Output:
	// true
	// natsfn: invalid configuration: inventory/reserve uses bucket "stock": declare it in the service's Buckets
}
