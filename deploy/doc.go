// Package deploy holds the deployment files (Dockerfile, compose with a
// 3-node NATS cluster, Kubernetes manifests, Grafana dashboard) and the
// tests that check them against the code with real parsers, since no
// container engine runs where the tests do.
package deploy
