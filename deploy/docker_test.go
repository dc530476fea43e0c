package deploy

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

func TestDockerfile(t *testing.T) {
	f, err := os.Open("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := parser.Parse(f)
	if err != nil {
		t.Fatalf("Dockerfile does not parse: %v", err)
	}
	var froms, runs []string
	var user, entrypoint string
	for _, n := range res.AST.Children {
		var words []string
		for w := n.Next; w != nil; w = w.Next {
			words = append(words, w.Value)
		}
		switch strings.ToLower(n.Value) {
		case "from":
			froms = append(froms, strings.Join(words, " "))
		case "run":
			runs = append(runs, strings.Join(words, " "))
		case "user":
			user = strings.Join(words, " ")
		case "entrypoint":
			entrypoint = strings.Join(words, " ")
		}
	}
	if len(froms) != 2 || !strings.HasPrefix(froms[0], "golang:1.26") || !strings.HasPrefix(froms[1], "gcr.io/distroless/static") || !strings.Contains(froms[1], "nonroot") {
		t.Errorf("want a Go builder stage and a distroless static nonroot stage, got %v", froms)
	}
	build := strings.Join(runs, "\n")
	for _, want := range []string{"CGO_ENABLED=0", "-tags nolocal", "-trimpath", "-X github.com/natsfn/natsfn/internal/cli.Version=${VERSION}", "-s -w"} {
		if !strings.Contains(build, want) {
			t.Errorf("build step lacks %q:\n%s", want, build)
		}
	}
	if user != "nonroot:nonroot" || entrypoint != "/natsfn" {
		t.Errorf("user %q, entrypoint %q", user, entrypoint)
	}
	ignore, err := os.ReadFile(filepath.Join("..", ".dockerignore"))
	if err != nil || !strings.Contains(string(ignore), ".git") {
		t.Errorf(".dockerignore: %v", err)
	}
}

// TestStaticBuild builds the binary as the Dockerfile does and checks it
// needs no dynamic loader, so it runs on distroless/static.
func TestStaticBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	out := filepath.Join(t.TempDir(), "natsfn")
	cmd := exec.Command("go", "build", "-tags", "nolocal", "-trimpath", "-ldflags", "-s -w -X github.com/natsfn/natsfn/internal/cli.Version=test", "-o", out, ".")
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("static build: %v\n%s", err, b)
	}
	bin, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer bin.Close()
	for _, p := range bin.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatal("the binary asks for a dynamic loader: not static")
		}
	}
	if libs, _ := bin.ImportedLibraries(); len(libs) > 0 {
		t.Fatalf("the binary links %v", libs)
	}
	info, _ := os.Stat(out)
	t.Logf("static natsfn binary (image build): %.1f MB", float64(info.Size())/(1<<20))
	// distroless/static adds about 2 MB; the image must stay under 25 MB.
	if info.Size() > 23<<20 {
		t.Errorf("binary is %d bytes; with distroless/static the image would pass 25 MB", info.Size())
	}
	if msg, err := exec.Command(out, "local").CombinedOutput(); err == nil || !strings.Contains(string(msg), "without the embedded NATS server") {
		t.Errorf("the image binary should explain that it has no local mode: %s", msg)
	}
	v, err := exec.Command(out, "version").Output()
	if err != nil || !strings.HasPrefix(string(v), "natsfn test") {
		t.Fatalf("the static binary does not run: %v %s", err, v)
	}
}
