package cli

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/natsfn/natsfn/functions"
	"github.com/natsfn/natsfn/functions/inventory"
	"github.com/natsfn/natsfn/gateway"
	"github.com/natsfn/natsfn/internal/testkit"
	natsfn "github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/schemas"
)

// startSecuredNATS runs an embedded server whose only users are the ones
// `natsfn nats-config` generates, with passwords pw-<user>.
func startSecuredNATS(t *testing.T) *server.Server {
	t.Helper()
	dir := t.TempDir()
	var out testkit.Buffer
	if err := run(context.Background(), &out, "nats-config", "--out", filepath.Join(dir, "auth.conf")); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"orders", "inventory", "payment", "paysim", "gateway", "admin"} {
		t.Setenv(passwordEnv(u), "pw-"+u)
	}
	conf := filepath.Join(dir, "nats.conf")
	body := "listen: 127.0.0.1:-1\njetstream { store_dir: " + jsonString(filepath.Join(dir, "js")) + " }\ninclude \"auth.conf\"\n"
	if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	opts, err := server.ProcessConfigFile(conf)
	if err != nil {
		t.Fatalf("the generated authorization does not load: %v", err)
	}
	opts.NoLog, opts.NoSigs = true, true
	srv, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("secured server not ready")
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	return srv
}

func jsonString(s string) string { b, _ := json.Marshal(s); return string(b) }

func login(t *testing.T, url, user string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url, nats.UserInfo(user, "pw-"+user), nats.CustomInboxPrefix("_INBOX."+user),
		nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}))
	if err != nil {
		t.Fatalf("login as %s: %v", user, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// TestLeastPrivilegeCredentials: with only the generated users, every
// service under its own user, the saga completes; a service that steps out
// of its lane is refused.
func TestLeastPrivilegeCredentials(t *testing.T) {
	srv := startSecuredNATS(t)
	url := srv.ClientURL()
	logs := &testkit.Buffer{}
	log := zerolog.New(logs).Level(zerolog.WarnLevel)
	all := testkit.Must(functions.All(defaultAppConfig()))
	for _, name := range functions.Names() {
		rt, err := natsfn.New(natsfn.Config{
			URL: url, Logger: &log, InboxPrefix: "_INBOX." + name,
			NATSOptions: []nats.Option{nats.UserInfo(name, "pw-"+name)},
			Events:      natsfn.EventsConfig{AckWait: 2 * time.Second, RetryMin: 20 * time.Millisecond, RetryMax: 100 * time.Millisecond},
		}, all[name])
		if err != nil {
			t.Fatal(err)
		}
		testkit.Serve(t, rt)
	}
	admin := login(t, url, "admin")
	adminJS, _ := jetstream.New(admin)
	if _, err := inventory.Seed(context.Background(), adminJS, inventory.DemoCatalog(10)); err != nil {
		t.Fatal(err)
	}
	g, err := gateway.New(gateway.Config{}, login(t, url, "gateway"), functions.Routes())
	if err != nil {
		t.Fatal(err)
	}
	api := httptest.NewServer(g.Handler())
	defer api.Close()

	place := func(token string) string {
		resp, err := http.Post(api.URL+"/orders", "application/json",
			strings.NewReader(`{"customer_id":"c-1","items":[{"product_id":"sku-1","quantity":1}],"payment_token":"`+token+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var acc schemas.OrderAccepted
		_ = json.NewDecoder(resp.Body).Decode(&acc)
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("POST /orders as gateway: %d\n%s", resp.StatusCode, logs.String())
		}
		return acc.OrderID
	}
	status := func(id string) string {
		resp, err := http.Get(api.URL + "/orders/" + id)
		if err != nil {
			return ""
		}
		defer resp.Body.Close()
		var o schemas.Order
		_ = json.NewDecoder(resp.Body).Decode(&o)
		return o.Status
	}
	ok, declined := place("tok_visa"), place("tok_decline")
	testkit.Eventually(t, 20*time.Second, "both orders settle under least privilege", func() bool {
		return status(ok) == schemas.StatusConfirmed && status(declined) == schemas.StatusCancelled
	})
	testkit.Eventually(t, 10*time.Second, "the declined order's stock is back", func() bool {
		list, err := inventory.Stock(context.Background(), adminJS)
		return err == nil && len(list) > 0 && list[0].Available == 9 && list[0].Reserved == 0
	})
	if strings.Contains(logs.String(), "Permissions Violation") {
		t.Fatalf("a service was refused something it needs:\n%s", logs.String())
	}

	// Out of its lane: payment publishing an orders event, reading the orders bucket.
	payment := login(t, url, "payment")
	paymentJS, _ := jetstream.New(payment)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := paymentJS.Publish(ctx, schemas.EventOrderCreated, []byte(`{}`)); err == nil {
		t.Error("payment could publish orders.created.v1")
	}
	if _, err := paymentJS.KeyValue(ctx, "orders"); err == nil {
		t.Error("payment could open the orders bucket")
	}
	if _, err := payment.Request(schemas.SubjectGetOrder, []byte(`{"order_id":"`+ok+`"}`), time.Second); err == nil {
		t.Error("payment could call orders.get, which it never declared")
	}
	// The gateway may only send the API's requests.
	gw := login(t, url, "gateway")
	if err := gw.Publish(schemas.EventPaymentCharged, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	_ = gw.Flush()
	testkit.Eventually(t, 2*time.Second, "the gateway is refused an event subject", func() bool {
		return gw.LastError() != nil && strings.Contains(strings.ToLower(gw.LastError().Error()), "permissions violation")
	})
}
