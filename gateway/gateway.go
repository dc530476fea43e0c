// Package gateway is the HTTP edge of natsfn: a declarative route table
// (Routes) mapping HTTP requests to NATS requests, with no business logic of
// its own. It checks what HTTP owns (method, path, media type, size, load),
// forwards the body and the correlation id, and maps a function's typed
// error to its HTTP status with a JSON body.
package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"path"
	"regexp"
	"strings"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/VictoriaMetrics/metrics"
	"github.com/failsafe-go/failsafe-go/bulkhead"
	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/natsfn/natsfn/internal/tracing"
	natsfn "github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/runtime/client"
)

// Config holds the gateway's settings; zero values take defaults.
type Config struct {
	Addr           string        // listen address; default 127.0.0.1:8080
	Title          string        // of the API in /openapi.json; default "natsfn API"
	RequestTimeout time.Duration // how long a function may take to answer; default 10s
	MaxBodyBytes   int64         // larger bodies get 413; default 1 MiB
	MaxInFlight    int           // requests served at once before 429; default 1024
	// ReadHeaderTimeout closes connections that do not finish their headers
	// in time (slowloris); default 5s. IdleTimeout closes idle keep-alive
	// connections; default 60s.
	ReadHeaderTimeout time.Duration
	IdleTimeout       time.Duration
	Logger            *zerolog.Logger
	Metrics           *metrics.Set
	// TracerProvider, if set, receives a span per HTTP request, parent of
	// the function's; default: built from the standard OTEL_* environment
	// variables, none when they are unset.
	TracerProvider trace.TracerProvider
}

// SetDefaults fills the zero values.
func (c *Config) SetDefaults() {
	if c.Addr == "" {
		c.Addr = "127.0.0.1:8080"
	}
	if c.Title == "" {
		c.Title = "natsfn API"
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = 10 * time.Second
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = 1 << 20
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = 1024
	}
	if c.ReadHeaderTimeout == 0 {
		c.ReadHeaderTimeout = 5 * time.Second
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = 60 * time.Second
	}
	if c.Logger == nil {
		l := zerolog.Nop()
		c.Logger = &l
	}
	if c.Metrics == nil {
		c.Metrics = metrics.NewSet()
	}
}

// Validate reports settings that cannot work, after defaults; errors wrap
// natsfn.ErrConfig.
func (c *Config) Validate() error {
	if c.RequestTimeout < 0 || c.MaxBodyBytes < 0 || c.MaxInFlight < 0 || c.ReadHeaderTimeout < 0 || c.IdleTimeout < 0 {
		return fmt.Errorf("%w: gateway: timeouts and limits must not be negative", natsfn.ErrConfig)
	}
	return nil
}

// Gateway serves the routes over one NATS connection.
type Gateway struct {
	cfg      Config
	nc       atomic.Pointer[nats.Conn] // nil until connected: see Attach
	routes   []Route
	bulkhead bulkhead.Bulkhead[any]
	server   *http.Server
	ln       net.Listener
	stopping atomic.Bool
	openapi  []byte
	// stopTracing flushes the spans of a provider the gateway built itself.
	stopTracing func(context.Context) error
}

// New builds a gateway for routes on nc. nc may be nil: the gateway then
// serves /healthz and answers 503 (not ready, "connecting to NATS") until
// Attach hands it the connection, so a gateway started before NATS is
// alive to its probes while it waits.
func New(cfg Config, nc *nats.Conn, routes []Route) (*Gateway, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	doc, err := OpenAPI(cfg.Title, routes)
	if err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	g := &Gateway{cfg: cfg, routes: routes, openapi: doc,
		bulkhead: bulkhead.New[any](uint(cfg.MaxInFlight))}
	if g.cfg.TracerProvider == nil {
		if g.cfg.TracerProvider, g.stopTracing, err = tracing.FromEnv(context.Background(), "natsfn-gateway"); err != nil {
			return nil, fmt.Errorf("%w: gateway: OpenTelemetry from the environment: %v", natsfn.ErrConfig, err)
		}
	}
	g.nc.Store(nc)
	g.server = &http.Server{
		Handler:           g.Handler(),
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      cfg.RequestTimeout + 5*time.Second,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
	}
	return g, nil
}

// Handler is the gateway's HTTP handler: the routes, /openapi.json,
// /healthz, /readyz and /metrics, with JSON 404 and 405 for the rest.
func (g *Gateway) Handler() http.Handler {
	mux := http.NewServeMux()
	byPath := map[string]map[string]Route{}
	var paths []string
	for _, rt := range g.routes {
		if byPath[rt.Path] == nil {
			byPath[rt.Path] = map[string]Route{}
			paths = append(paths, rt.Path)
		}
		byPath[rt.Path][rt.Method] = rt
	}
	for _, p := range paths {
		methods := byPath[p]
		mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) {
			rt, ok := methods[r.Method]
			if !ok {
				w.Header().Set("Allow", allow(methods))
				writeProblem(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s is not allowed on %s; use %s", r.Method, p, allow(methods)))
				return
			}
			g.serve(w, r, rt)
		})
	}
	mux.HandleFunc("/openapi.json", g.only(http.MethodGet, func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, g.openapi) }))
	mux.HandleFunc("/healthz", g.only(http.MethodGet, func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, []byte(`{"status":"ok"}`))
	}))
	mux.HandleFunc("/readyz", g.only(http.MethodGet, func(w http.ResponseWriter, _ *http.Request) {
		nc := g.nc.Load()
		switch {
		case nc == nil:
			writeProblem(w, http.StatusServiceUnavailable, "not ready: connecting to NATS")
		case !nc.IsConnected() || g.stopping.Load():
			writeProblem(w, http.StatusServiceUnavailable, "not ready: not connected to NATS, or shutting down")
		default:
			writeJSON(w, http.StatusOK, []byte(`{"status":"ready"}`))
		}
	}))
	mux.HandleFunc("/metrics", g.only(http.MethodGet, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		g.cfg.Metrics.WritePrometheus(w)
		metrics.WriteProcessMetrics(w)
	}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, http.StatusNotFound, fmt.Sprintf("no route for %s %s; see /openapi.json", r.Method, clip(r.URL.Path)))
	})
	h := g.withCorrelation(canonicalPaths(mux))
	if g.cfg.TracerProvider == nil {
		return h
	}
	return otelhttp.NewHandler(h, "HTTP", otelhttp.WithTracerProvider(g.cfg.TracerProvider),
		otelhttp.WithPropagators(propagation.TraceContext{}),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method }))
}

// canonicalPaths answers a path with '.', '..' or empty segments with a JSON
// 400. net/http's mux would redirect it to the cleaned path instead, an
// HTML answer that sends a client to a resource it did not name.
func canonicalPaths(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		clean := path.Clean(p)
		if strings.HasSuffix(p, "/") && clean != "/" {
			clean += "/"
		}
		if p != clean {
			writeProblem(w, http.StatusBadRequest, fmt.Sprintf("path %q has '.', '..' or empty segments; name the resource directly", clip(p)))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// clip shortens caller input quoted in an answer.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

func (g *Gateway) only(method string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != method {
			w.Header().Set("Allow", method)
			writeProblem(w, http.StatusMethodNotAllowed, "method "+r.Method+" is not allowed; use "+method)
			return
		}
		h(w, r)
	}
}

func allow(methods map[string]Route) string {
	var ms []string
	for m := range methods {
		ms = append(ms, m)
	}
	return strings.Join(ms, ", ")
}

// withCorrelation uses the caller's X-Correlation-ID, or a fresh one when
// there is none or it cannot travel as is (too long, not printable), and
// names the one used on every response.
func (g *Gateway) withCorrelation(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cid := client.SafeCorrelationID(r.Header.Get(client.HeaderCorrelationID))
		w.Header().Set(client.HeaderCorrelationID, cid)
		next.ServeHTTP(w, r.WithContext(client.WithCorrelationID(r.Context(), cid)))
	})
}

// serve runs one route: admission, body checks, the NATS request, the answer.
func (g *Gateway) serve(w http.ResponseWriter, r *http.Request, rt Route) {
	start := time.Now()
	if span := trace.SpanFromContext(r.Context()); span.IsRecording() {
		span.SetName(rt.Method + " " + rt.Path)
		span.SetAttributes(attribute.String("http.route", rt.Path))
	}
	status := g.forward(w, r, rt)
	labels := fmt.Sprintf(`route=%q,status="%d"`, rt.Method+" "+rt.Path, status)
	g.cfg.Metrics.GetOrCreateCounter("natsfn_gateway_requests_total{" + labels + "}").Inc()
	g.cfg.Metrics.GetOrCreateSummary(fmt.Sprintf(`natsfn_gateway_request_duration_seconds{route=%q}`, rt.Method+" "+rt.Path)).UpdateDuration(start)
	ev := g.cfg.Logger.Debug()
	if status >= 500 {
		ev = g.cfg.Logger.Warn()
	}
	ev.Str("correlation_id", natsfn.CorrelationID(r.Context())).Str("method", r.Method).Str("path", r.URL.Path).
		Int("status", status).Dur("duration", time.Since(start)).Msg("request")
}

func (g *Gateway) forward(w http.ResponseWriter, r *http.Request, rt Route) int {
	if !g.bulkhead.TryAcquirePermit() {
		w.Header().Set("Retry-After", "1")
		writeProblem(w, http.StatusTooManyRequests, "overloaded: too many requests in flight; retry shortly")
		return http.StatusTooManyRequests
	}
	defer g.bulkhead.ReleasePermit()

	nc := g.nc.Load()
	if nc == nil || !nc.IsConnected() {
		// A request now would sit in the reconnect buffer until it timed out.
		w.Header().Set("Retry-After", "1")
		writeProblem(w, http.StatusServiceUnavailable, "NATS is unreachable; retry shortly")
		return http.StatusServiceUnavailable
	}
	payload, status, perr := g.payload(r, rt)
	if perr != nil {
		writeProblem(w, status, perr.Error())
		return status
	}
	msg := nats.NewMsg(rt.Subject)
	msg.Data = payload
	msg.Header.Set(client.HeaderCorrelationID, natsfn.CorrelationID(r.Context()))
	for _, h := range rt.Forward {
		v := r.Header.Get(h)
		if v == "" {
			continue
		}
		if !printable(v) {
			// A NATS header is a line of text: a control character would end it.
			writeProblem(w, http.StatusBadRequest, "invalid header "+h, natsfn.FieldError{Field: h, Message: "has control characters or is not UTF-8"})
			return http.StatusBadRequest
		}
		msg.Header.Set(h, v)
	}
	ctx, cancel := context.WithTimeout(r.Context(), g.cfg.RequestTimeout)
	defer cancel()
	reply, err := client.Request(ctx, nc, msg)
	if err != nil {
		var e *natsfn.Error
		if !errors.As(err, &e) {
			e = natsfn.Unavailable("NATS: %v", err)
		}
		status := statusOf(e)
		if status == http.StatusInternalServerError {
			writeProblem(w, status, "internal error")
		} else {
			writeProblem(w, status, e.Message, e.Details...)
		}
		return status
	}
	if rt.Location != "" {
		if loc := fill(rt.Location, reply.Data); loc != "" {
			w.Header().Set("Location", loc)
		}
	}
	writeJSON(w, rt.Status, reply.Data)
	return rt.Status
}

// payload builds the NATS request body: the HTTP body for Body routes
// (checked for media type and size), else the path wildcards as JSON.
func (g *Gateway) payload(r *http.Request, rt Route) ([]byte, int, error) {
	if !rt.Body {
		fields := map[string]string{}
		for _, name := range wildcards(rt.Path) {
			fields[name] = r.PathValue(name)
		}
		b, _ := json.Marshal(fields)
		return b, 0, nil
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, params, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return nil, http.StatusUnsupportedMediaType, fmt.Errorf("content type %q is not supported; send application/json", clip(ct))
		}
		if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
			return nil, http.StatusUnsupportedMediaType, fmt.Errorf("charset %q is not supported; send application/json in UTF-8", clip(cs))
		}
	} else {
		return nil, http.StatusUnsupportedMediaType, errors.New("no Content-Type; send application/json")
	}
	if r.ContentLength > g.cfg.MaxBodyBytes {
		return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("body of %d bytes is over the %d byte limit", r.ContentLength, g.cfg.MaxBodyBytes)
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, g.cfg.MaxBodyBytes))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("body is over the %d byte limit", g.cfg.MaxBodyBytes)
	}
	if err != nil {
		return nil, http.StatusBadRequest, fmt.Errorf("cannot read body: %v", err)
	}
	return body, 0, nil
}

// printable reports whether a header value is valid UTF-8 without control
// characters.
func printable(v string) bool {
	if !utf8.ValidString(v) {
		return false
	}
	for _, r := range v {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

var wildcardRegexp = regexp.MustCompile(`\{([A-Za-z0-9_]+)\}`)

func wildcards(path string) []string {
	var names []string
	for _, m := range wildcardRegexp.FindAllStringSubmatch(path, -1) {
		names = append(names, m[1])
	}
	return names
}

// fill replaces {field} in tmpl with the string fields of a JSON object.
func fill(tmpl string, reply []byte) string {
	var fields map[string]any
	if json.Unmarshal(reply, &fields) != nil {
		return ""
	}
	ok := true
	out := wildcardRegexp.ReplaceAllStringFunc(tmpl, func(m string) string {
		v, found := fields[m[1:len(m)-1]].(string)
		ok = ok && found
		return v
	})
	if !ok {
		return ""
	}
	return out
}

// Attach hands the gateway its NATS connection, once connected.
func (g *Gateway) Attach(nc *nats.Conn) { g.nc.Store(nc) }

// Listen opens the listening socket on cfg.Addr; Serve does it if needed.
func (g *Gateway) Listen() error {
	if g.ln != nil {
		return nil
	}
	ln, err := net.Listen("tcp", g.cfg.Addr)
	if err != nil {
		return fmt.Errorf("gateway on %s: %w (pick another address with --http)", g.cfg.Addr, err)
	}
	g.ln = ln
	return nil
}

// Serve serves until ctx ends, then finishes the requests in flight within
// the deadline.
func (g *Gateway) Serve(ctx context.Context, shutdownTimeout time.Duration) error {
	if err := g.Listen(); err != nil {
		return err
	}
	ln := g.ln
	errc := make(chan error, 1)
	go func() { errc <- g.server.Serve(ln) }()
	g.cfg.Logger.Info().Str("addr", ln.Addr().String()).Msg("gateway listening")
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	g.stopping.Store(true)
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := g.server.Shutdown(sctx); err != nil {
		return fmt.Errorf("gateway shutdown: %w", err)
	}
	if g.stopTracing != nil {
		if err := g.stopTracing(sctx); err != nil {
			g.cfg.Logger.Warn().AnErr("cause", err).Msg("cannot flush the last spans")
		}
	}
	return nil
}

// Addr is where the gateway listens, once Listen or Serve has run.
func (g *Gateway) Addr() string {
	if g.ln == nil {
		return ""
	}
	return g.ln.Addr().String()
}
