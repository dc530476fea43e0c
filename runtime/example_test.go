package natsfn_test

import (
	"context"
	"fmt"

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
