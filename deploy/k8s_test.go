package deploy

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"

	"github.com/natsfn/natsfn/functions"
	"github.com/natsfn/natsfn/internal/testkit"
	natsfn "github.com/natsfn/natsfn/runtime"
)

// scaledObject is the part of KEDA's ScaledObject (keda.sh/v1alpha1) the
// manifests use; strict decoding refuses any field it does not know.
type scaledObject struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		ScaleTargetRef struct {
			Name string `json:"name"`
		} `json:"scaleTargetRef"`
		MinReplicaCount int `json:"minReplicaCount"`
		MaxReplicaCount int `json:"maxReplicaCount"`
		Triggers        []struct {
			Type     string            `json:"type"`
			Metadata map[string]string `json:"metadata"`
		} `json:"triggers"`
	} `json:"spec"`
}

type manifests struct {
	deployments map[string]appsv1.Deployment
	services    map[string]corev1.Service
	pdbs        map[string]policyv1.PodDisruptionBudget
	hpas        map[string]autoscalingv2.HorizontalPodAutoscaler
	jobs        map[string]batchv1.Job
	scaled      map[string]scaledObject
	files       []string
}

// loadManifests decodes every document of every file listed in the
// kustomization into its Kubernetes API type, strictly.
func loadManifests(t *testing.T) manifests {
	t.Helper()
	var kust struct {
		APIVersion string              `json:"apiVersion"`
		Kind       string              `json:"kind"`
		Namespace  string              `json:"namespace"`
		Labels     []map[string]any    `json:"labels"`
		Images     []map[string]string `json:"images"`
		Resources  []string            `json:"resources"`
	}
	raw, err := os.ReadFile(filepath.Join("k8s", "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(raw, &kust); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	m := manifests{deployments: map[string]appsv1.Deployment{}, services: map[string]corev1.Service{},
		pdbs: map[string]policyv1.PodDisruptionBudget{}, hpas: map[string]autoscalingv2.HorizontalPodAutoscaler{},
		jobs: map[string]batchv1.Job{}, scaled: map[string]scaledObject{}, files: kust.Resources}
	for _, file := range kust.Resources {
		raw, err := os.ReadFile(filepath.Join("k8s", file))
		if err != nil {
			t.Fatalf("kustomization lists %s: %v", file, err)
		}
		for i, doc := range bytes.Split(raw, []byte("\n---\n")) {
			var head struct {
				Kind string `json:"kind"`
			}
			if err := yaml.Unmarshal(doc, &head); err != nil {
				t.Fatalf("%s #%d: %v", file, i, err)
			}
			strict := func(v any) {
				if err := yaml.UnmarshalStrict(doc, v); err != nil {
					t.Fatalf("%s #%d (%s): %v", file, i, head.Kind, err)
				}
			}
			switch head.Kind {
			case "Deployment":
				var d appsv1.Deployment
				strict(&d)
				m.deployments[d.Name] = d
			case "Service":
				var s corev1.Service
				strict(&s)
				m.services[s.Name] = s
			case "PodDisruptionBudget":
				var p policyv1.PodDisruptionBudget
				strict(&p)
				m.pdbs[p.Name] = p
			case "HorizontalPodAutoscaler":
				var h autoscalingv2.HorizontalPodAutoscaler
				strict(&h)
				m.hpas[h.Name] = h
			case "Job":
				var j batchv1.Job
				strict(&j)
				m.jobs[j.Name] = j
			case "ScaledObject":
				var s scaledObject
				strict(&s)
				m.scaled[s.Metadata.Name] = s
			case "Namespace":
				strict(&corev1.Namespace{})
			case "Secret":
				strict(&corev1.Secret{})
			default:
				t.Fatalf("%s #%d: unexpected kind %q", file, i, head.Kind)
			}
		}
	}
	return m
}

func TestKubernetesManifests(t *testing.T) {
	m := loadManifests(t)
	all := testkit.Must(functions.All(functions.Config{}))
	var svcs []natsfn.Service
	for _, n := range functions.Names() {
		svcs = append(svcs, all[n])
	}
	runnable := subcommands()
	for _, name := range append(functions.Names(), "gateway") {
		d, ok := m.deployments[name]
		if !ok {
			t.Errorf("no Deployment for %s", name)
			continue
		}
		spec := d.Spec.Template.Spec
		c := spec.Containers[0]
		want := []string{"run", name}
		port := int32(8081) // the admin server of `natsfn run`
		if name == "gateway" {
			want, port = []string{"gateway"}, 8080
		}
		if len(c.Args) < len(want) || !slices.Equal(c.Args[:len(want)], want) || !slices.Contains(runnable, c.Args[0]) {
			t.Errorf("%s: args %v, want %v...", name, c.Args, want)
		}
		if c.Image != "natsfn" {
			t.Errorf("%s: image %q; kustomize's images: maps \"natsfn\" to the registry", name, c.Image)
		}
		probe := func(p *corev1.Probe, path string) {
			if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != path {
				t.Errorf("%s: probe for %s missing", name, path)
				return
			}
			for _, cp := range c.Ports {
				if cp.Name == p.HTTPGet.Port.StrVal && cp.ContainerPort == port {
					return
				}
			}
			t.Errorf("%s: probe %s points at port %q, not the container's %d", name, path, p.HTTPGet.Port.String(), port)
		}
		probe(c.LivenessProbe, "/healthz")
		probe(c.ReadinessProbe, "/readyz")
		sc := c.SecurityContext
		if spec.SecurityContext == nil || spec.SecurityContext.RunAsNonRoot == nil || !*spec.SecurityContext.RunAsNonRoot ||
			sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			t.Errorf("%s: must run as non-root with a read-only root filesystem", name)
		}
		if c.Resources.Requests.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() {
			t.Errorf("%s: resources", name)
		}
		if d.Spec.Template.Annotations["prometheus.io/scrape"] != "true" {
			t.Errorf("%s: no Prometheus scrape annotation", name)
		}
		if _, ok := m.pdbs[name]; !ok {
			t.Errorf("%s: no PodDisruptionBudget", name)
		}
		envUser := ""
		for _, e := range c.Env {
			if e.Name == "NATS_USER" {
				envUser = e.Value
			}
		}
		if envUser != name {
			t.Errorf("%s: NATS_USER %q", name, envUser)
		}
	}
	if _, ok := m.services["gateway"]; !ok {
		t.Error("no Service for the gateway")
	}
	if h, ok := m.hpas["gateway"]; !ok || h.Spec.Metrics[0].Resource == nil || h.Spec.Metrics[0].Resource.Name != corev1.ResourceCPU {
		t.Error("no CPU HorizontalPodAutoscaler for the gateway")
	}
	if j, ok := m.jobs["seed"]; !ok || j.Spec.Template.Spec.Containers[0].Args[0] != "seed" {
		t.Error("no seed Job")
	}

	// KEDA: one ScaledObject per event-driven service, one trigger per
	// function consumer, named as the runtime names its durables.
	for _, s := range svcs {
		var want []string
		for _, f := range s.Functions {
			for _, on := range f.On {
				want = append(want, s.Consumer(f, on))
			}
		}
		so, ok := m.scaled[s.Name]
		if len(want) == 0 {
			if ok {
				t.Errorf("%s has no event functions but a ScaledObject", s.Name)
			}
			continue
		}
		if !ok || so.Spec.ScaleTargetRef.Name != s.Name {
			t.Errorf("%s: no ScaledObject targeting its Deployment", s.Name)
			continue
		}
		var got []string
		for _, tr := range so.Spec.Triggers {
			if tr.Type != "nats-jetstream" || tr.Metadata["stream"] == "" || tr.Metadata["natsServerMonitoringEndpoint"] == "" {
				t.Errorf("%s: trigger %+v", s.Name, tr)
			}
			got = append(got, tr.Metadata["consumer"])
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: KEDA consumers %v, runtime durables %v", s.Name, got, want)
		}
	}
	if !strings.Contains(strings.Join(m.files, " "), "secret.yaml") {
		t.Error("the users' passwords Secret is not applied")
	}
}

func TestHelmValues(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("k8s", "nats-values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Config struct {
			Cluster struct {
				Enabled  bool `json:"enabled"`
				Replicas int  `json:"replicas"`
			} `json:"cluster"`
			JetStream struct {
				Enabled   bool `json:"enabled"`
				FileStore struct {
					Enabled bool `json:"enabled"`
					PVC     struct {
						Enabled bool   `json:"enabled"`
						Size    string `json:"size"`
					} `json:"pvc"`
				} `json:"fileStore"`
			} `json:"jetstream"`
			Monitor struct {
				Enabled bool `json:"enabled"`
				Port    int  `json:"port"`
			} `json:"monitor"`
			Merge map[string]any `json:"merge"`
		} `json:"config"`
	}
	if err := yaml.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	c := v.Config
	if !c.Cluster.Enabled || c.Cluster.Replicas != 3 || !c.JetStream.Enabled || !c.JetStream.FileStore.Enabled ||
		!c.JetStream.FileStore.PVC.Enabled || !c.Monitor.Enabled || c.Monitor.Port != 8222 {
		t.Fatalf("values: %+v", c)
	}
	m := loadManifests(t)
	for _, so := range m.scaled {
		for _, tr := range so.Spec.Triggers {
			if !strings.HasSuffix(tr.Metadata["natsServerMonitoringEndpoint"], ":8222") {
				t.Errorf("KEDA reads %s, not the chart's monitor port", tr.Metadata["natsServerMonitoringEndpoint"])
			}
		}
	}
}
