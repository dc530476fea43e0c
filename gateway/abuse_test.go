package gateway_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/natsfn/natsfn/functions"
	"github.com/natsfn/natsfn/gateway"
	"github.com/natsfn/natsfn/internal/testkit"
)

// serve runs a gateway on a real loopback listener (no functions behind it:
// these tests are about HTTP abuse, which never reaches NATS).
func serve(t *testing.T, cfg gateway.Config) string {
	t.Helper()
	srv := testkit.StartNATS(t)
	cfg.Addr = "127.0.0.1:0"
	g, err := gateway.New(cfg, testkit.Connect(t, srv.ClientURL()), functions.Routes())
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Serve(ctx, time.Second) }()
	t.Cleanup(func() { cancel(); <-done })
	return g.Addr()
}

func TestHugeBodyIs413WithoutReadingIt(t *testing.T) {
	addr := serve(t, gateway.Config{})
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Announce 100 MB, send 1 KB: the answer must come before the rest.
	fmt.Fprintf(conn, "POST /orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", 100<<20, strings.Repeat("x", 1024))
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer before the body was sent: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(body), `"error"`) {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}

	// Without a Content-Length, the reading stops at the limit.
	pr, pw := io.Pipe()
	go func() {
		chunk := strings.Repeat("y", 64<<10)
		for range 64 { // 4 MiB if anyone read it all
			if _, err := io.WriteString(pw, chunk); err != nil {
				return
			}
		}
		pw.Close()
	}()
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/orders", pr)
	req.Header.Set("Content-Type", "application/json")
	r2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("chunked oversize body: %d", r2.StatusCode)
	}
}

func TestSlowHeadersAreCutOff(t *testing.T) {
	addr := serve(t, gateway.Config{ReadHeaderTimeout: 200 * time.Millisecond})
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprint(conn, "GET /products HTTP/1.1\r\nHost: x\r\n") // and then nothing
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	_, err = io.ReadAll(conn)
	if err != nil && !strings.Contains(err.Error(), "reset") {
		t.Fatalf("the connection was not closed by the server: %v", err)
	}
	if waited := time.Since(start); waited > 3*time.Second {
		t.Fatalf("closed only after %s", waited)
	}
}

func TestIdleConnectionsAreBounded(t *testing.T) {
	const conns = 2000
	addr := serve(t, gateway.Config{IdleTimeout: 300 * time.Millisecond, ReadHeaderTimeout: 300 * time.Millisecond})
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	open := make([]net.Conn, 0, conns)
	for range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("after %d connections: %v", len(open), err)
		}
		open = append(open, c)
	}
	defer func() {
		for _, c := range open {
			c.Close()
		}
	}()
	// Every one of them is closed by the server once it has idled too long.
	deadline := time.Now().Add(10 * time.Second)
	closed := 0
	buf := make([]byte, 1)
	for _, c := range open {
		_ = c.SetReadDeadline(deadline)
		if _, err := c.Read(buf); err == io.EOF || (err != nil && !isTimeout(err)) {
			closed++
		}
	}
	if closed != conns {
		t.Fatalf("%d of %d idle connections were closed by the server", closed, conns)
	}
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	if grown := int64(after.HeapInuse) - int64(before.HeapInuse); grown > 64<<20 {
		t.Fatalf("heap grew by %d MB for idle connections", grown>>20)
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

func TestUnknownMethodsAndPathsAreJSON(t *testing.T) {
	addr := serve(t, gateway.Config{})
	for _, c := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/nowhere", 404}, {"PATCH", "/orders", 405}, {"BREW", "/orders/x", 405}, {"POST", "/products", 405}, {"GET", "/", 404},
	} {
		req, _ := http.NewRequest(c.method, "http://"+addr+c.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status || resp.Header.Get("Content-Type") != "application/json" || !strings.Contains(string(body), `"error"`) {
			t.Errorf("%s %s: %d %s %s", c.method, c.path, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
	}
}
