// Package embedded starts a real NATS server in-process, with JetStream, for
// `natsfn local` and for tests: no mocks, no external binaries.
package embedded

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	natsfn "github.com/natsfn/natsfn/runtime"
)

// Config says where the server listens and stores. Port -1 picks a random
// free port; StoreDir empty keeps JetStream in a fresh temporary directory,
// removed when the server shuts down.
type Config struct {
	Host       string // default 127.0.0.1
	Port       int    // default -1 (random)
	StoreDir   string
	ServerName string
	// NoJetStream turns JetStream off; it is on by default.
	NoJetStream bool
	// Logs sends the server's own log lines to stderr.
	Logs bool
}

// SetDefaults fills the zero values.
func (c *Config) SetDefaults() {
	if c.Host == "" {
		c.Host = "127.0.0.1"
	}
	if c.Port == 0 {
		c.Port = -1
	}
}

// Validate reports settings that cannot work, after defaults; errors wrap
// natsfn.ErrConfig.
func (c *Config) Validate() error {
	if c.Port < -1 || c.Port > 65535 {
		return fmt.Errorf("%w: embedded NATS: port %d: use 1 to 65535, or -1 for a random free port", natsfn.ErrConfig, c.Port)
	}
	return nil
}

// Start runs a server and waits until it accepts clients.
func Start(cfg Config) (*server.Server, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Port > 0 {
		// Fail fast with a clear error rather than after the ready timeout.
		ln, err := net.Listen("tcp", net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)))
		if err != nil {
			return nil, fmt.Errorf("embedded NATS cannot listen on %s:%d: %w (is another NATS or natsfn local running? pick another port with --nats)", cfg.Host, cfg.Port, err)
		}
		ln.Close()
	}
	var scratch string
	if cfg.StoreDir == "" && !cfg.NoJetStream {
		// nats-server's own default is one fixed directory under the system's
		// temporary directory, shared by every server started without a
		// StoreDir: a second run would find the first one's streams.
		dir, err := os.MkdirTemp("", "natsfn-embedded-")
		if err != nil {
			return nil, fmt.Errorf("embedded NATS: %w", err)
		}
		cfg.StoreDir, scratch = dir, dir
	}
	opts := &server.Options{
		ServerName: cfg.ServerName,
		Host:       cfg.Host,
		Port:       cfg.Port,
		JetStream:  !cfg.NoJetStream,
		StoreDir:   cfg.StoreDir,
		NoSigs:     true,
		NoLog:      !cfg.Logs,
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		if scratch != "" {
			_ = os.RemoveAll(scratch)
		}
		return nil, fmt.Errorf("embedded NATS: %w", err)
	}
	if cfg.Logs {
		srv.ConfigureLogger()
	}
	if scratch != "" {
		go func() {
			srv.WaitForShutdown()
			_ = os.RemoveAll(scratch)
		}()
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown() // and the scratch directory goes with it
		return nil, fmt.Errorf("embedded NATS on %s:%d did not become ready in 10s (port in use? pick another with --nats)", cfg.Host, cfg.Port)
	}
	return srv, nil
}
