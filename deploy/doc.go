// Package deploy holds no code: its tests check the deployment files in this
// folder (Dockerfile, Compose, Envoy, Kubernetes, Grafana) against the
// iamsentry binary they run — its flags, sub-commands, ports, health service
// name, configuration validation and metric names.
//
// It is a module of its own so that the Kubernetes API packages its tests
// decode manifests with never enter the iamsentry module's dependencies.
package deploy
