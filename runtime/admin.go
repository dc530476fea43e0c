package natsfn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// startAdmin serves /healthz (the process is alive), /readyz (connected and
// every function registered; 503 otherwise), /metrics and /debug/pprof.
func (rt *Runtime) startAdmin() error {
	ln, err := net.Listen("tcp", rt.cfg.AdminAddr)
	if err != nil {
		return fmt.Errorf("admin server on %s: %w (choose another address with --admin-addr)", rt.cfg.AdminAddr, err)
	}
	rt.adminLn = ln
	rt.admin = &http.Server{
		Handler:           rt.adminMux(),
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       60 * time.Second,
	}
	go func() {
		if err := rt.admin.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			rt.log.Error().AnErr("cause", err).Msg("admin server stopped")
		}
	}()
	rt.log.Info().Str("addr", ln.Addr().String()).Msg("admin server listening")
	return nil
}

func (rt *Runtime) adminMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if rt.Ready() {
			writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
			return
		}
		body := map[string]any{"status": "not ready", "reasons": rt.notReadyReasons()}
		if wait, ok := rt.progress.waiting(); ok {
			body["waiting_for"] = wait
		}
		writeJSON(w, http.StatusServiceUnavailable, body)
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		rt.metrics.writePrometheus(w)
	})
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

func (rt *Runtime) notReadyReasons() []string {
	var r []string
	if nc := rt.ncPtr.Load(); nc == nil || !nc.IsConnected() {
		r = append(r, "not connected to NATS")
	}
	if !rt.registered.Load() {
		if wait, ok := rt.progress.waiting(); ok {
			r = append(r, "starting: waiting for "+wait.Step)
		} else {
			r = append(r, "functions not registered yet")
		}
	}
	if rt.stopping.Load() {
		r = append(r, "shutting down")
	}
	return r
}

func (rt *Runtime) stopAdmin() {
	if rt.admin == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = rt.admin.Shutdown(ctx)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
