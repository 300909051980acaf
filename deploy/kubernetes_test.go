package deploy_test

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/kustomize/api/krusty"
	kustypes "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/iamsentry/iamsentry/config"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	"github.com/iamsentry/iamsentry/server"
)

// newObject returns an empty upstream API object for apiVersion and kind, or
// nil for a kind these manifests should not contain.
func newObject(apiVersion, kind string) any {
	switch apiVersion + " " + kind {
	case "v1 Namespace":
		return new(corev1.Namespace)
	case "v1 ServiceAccount":
		return new(corev1.ServiceAccount)
	case "v1 Service":
		return new(corev1.Service)
	case "v1 ConfigMap":
		return new(corev1.ConfigMap)
	case "apps/v1 Deployment":
		return new(appsv1.Deployment)
	case "apps/v1 StatefulSet":
		return new(appsv1.StatefulSet)
	case "policy/v1 PodDisruptionBudget":
		return new(policyv1.PodDisruptionBudget)
	case "autoscaling/v2 HorizontalPodAutoscaler":
		return new(autoscalingv2.HorizontalPodAutoscaler)
	case "networking.k8s.io/v1 NetworkPolicy":
		return new(networkingv1.NetworkPolicy)
	}
	return nil
}

// jsonPatchOp is one RFC 6902 operation of a Kustomize JSON patch.
type jsonPatchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	From  string `json:"from,omitempty"`
	Value any    `json:"value,omitempty"`
}

// splitDocuments splits multi-document YAML, dropping empty documents.
func splitDocuments(data []byte) [][]byte {
	var docs [][]byte
	for _, d := range bytes.Split(append([]byte("\n"), data...), []byte("\n---")) {
		if len(bytes.TrimSpace(stripComments(d))) > 0 {
			docs = append(docs, d)
		}
	}
	return docs
}

func stripComments(d []byte) []byte {
	var out [][]byte
	for _, line := range bytes.Split(d, []byte("\n")) {
		if !bytes.HasPrefix(bytes.TrimSpace(line), []byte("#")) {
			out = append(out, line)
		}
	}
	return bytes.Join(out, []byte("\n"))
}

// decodeStrict decodes one manifest document into its upstream API type;
// unknown or duplicate fields fail.
func decodeStrict(doc []byte) (any, error) {
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := yaml.Unmarshal(doc, &head); err != nil {
		return nil, err
	}
	obj := newObject(head.APIVersion, head.Kind)
	if obj == nil {
		return nil, fmt.Errorf("unexpected kind %q %q", head.APIVersion, head.Kind)
	}
	if err := yaml.UnmarshalStrict(doc, obj); err != nil {
		return nil, fmt.Errorf("%s %s: %w", head.APIVersion, head.Kind, err)
	}
	return obj, nil
}

// TestManifestsDecodeStrictly decodes every YAML file under kubernetes/ into
// its type: kustomization.yaml into Kustomize's Kustomization, JSON patches
// into operations, config.yaml through the iamsentry config, everything
// else (resources and strategic-merge patches) into the Kubernetes API types.
func TestManifestsDecodeStrictly(t *testing.T) {
	var files int
	err := filepath.WalkDir("kubernetes", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") {
			return err
		}
		files++
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		t.Run(path, func(t *testing.T) { checkManifestFile(t, path, data) })
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 10 {
		t.Errorf("found %d YAML files under kubernetes/, want the base, overlay, component and redis-trial", files)
	}
}

func checkManifestFile(t *testing.T, path string, data []byte) {
	switch base := filepath.Base(path); {
	case base == "kustomization.yaml":
		var k kustypes.Kustomization
		if err := yaml.UnmarshalStrict(data, &k); err != nil {
			t.Fatalf("not a Kustomization: %v", err)
		}
		checkKustomizationRefs(t, filepath.Dir(path), &k)
	case base == "config.yaml":
		if _, err := config.ParseAndBuild(data, builtin.Specs()); err != nil {
			t.Fatalf("iamsentry refuses the config file:\n%v", err)
		}
	case bytes.HasPrefix(bytes.TrimSpace(stripComments(data)), []byte("- op:")):
		var ops []jsonPatchOp
		if err := yaml.UnmarshalStrict(data, &ops); err != nil || len(ops) == 0 {
			t.Fatalf("not a JSON patch (%d operations): %v", len(ops), err)
		}
	default:
		docs := splitDocuments(data)
		if len(docs) == 0 {
			t.Fatal("no documents")
		}
		for i, doc := range docs {
			if _, err := decodeStrict(doc); err != nil {
				t.Errorf("document %d: %v", i+1, err)
			}
		}
	}
}

// checkKustomizationRefs checks that every file a kustomization names exists.
func checkKustomizationRefs(t *testing.T, dir string, k *kustypes.Kustomization) {
	t.Helper()
	refs := append(append([]string{}, k.Resources...), k.Components...)
	for _, p := range k.Patches {
		if p.Path != "" {
			refs = append(refs, p.Path)
		}
	}
	for _, g := range k.ConfigMapGenerator {
		for _, f := range g.FileSources {
			_, f, _ = strings.Cut(f, "=")
			refs = append(refs, f)
		}
	}
	for _, r := range refs {
		if _, err := os.Stat(filepath.Join(dir, r)); err != nil {
			t.Errorf("kustomization names %s: %v", r, err)
		}
	}
}

// build renders a kustomization with the Kustomize library (what kubectl
// apply -k runs) and decodes every object strictly.
func build(t *testing.T, dir string) []any {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	out, err := m.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	var objs []any
	for i, doc := range splitDocuments(out) {
		obj, err := decodeStrict(doc)
		if err != nil {
			t.Errorf("kustomize build %s, object %d: %v", dir, i+1, err)
			continue
		}
		objs = append(objs, obj)
	}
	return objs
}

func only[T any](t *testing.T, objs []any) *T {
	t.Helper()
	var found []*T
	for _, o := range objs {
		if v, ok := o.(*T); ok {
			found = append(found, v)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want one %T, found %d", *new(T), len(found))
	}
	return found[0]
}

func all[T any](objs []any) []*T {
	var found []*T
	for _, o := range objs {
		if v, ok := o.(*T); ok {
			found = append(found, v)
		}
	}
	return found
}

// installations are the kustomizations that install iamsentry.
var installations = []string{"kubernetes/base", "kubernetes/overlays/example"}

// TestKustomizeBuild renders the base, the example overlay (with the TLS
// component) and redis-trial, and checks what the overlay promises.
func TestKustomizeBuild(t *testing.T) {
	for _, dir := range append(installations, "kubernetes/redis-trial") {
		t.Run(dir, func(t *testing.T) {
			objs := build(t, dir)
			if len(objs) == 0 {
				t.Fatal("renders nothing")
			}
			for _, o := range objs {
				if _, ok := o.(*corev1.Secret); ok {
					t.Error("renders a Secret: secrets are referenced, never shipped")
				}
			}
		})
	}
	objs := build(t, "kubernetes/overlays/example")
	d := only[appsv1.Deployment](t, objs)
	if d.Namespace == "" || d.Namespace != only[corev1.Namespace](t, objs).Name {
		t.Errorf("Deployment namespace %q: want the overlay's Namespace", d.Namespace)
	}
	if img := container(t, d).Image; !strings.Contains(img, ":") || strings.HasSuffix(img, ":latest") {
		t.Errorf("overlay image %q: want a pinned tag", img)
	}
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 3 {
		t.Errorf("overlay replicas: %v, want 3", d.Spec.Replicas)
	}
	for _, o := range build(t, "kubernetes/base") {
		if s, ok := o.(*appsv1.StatefulSet); ok {
			t.Errorf("the base holds StatefulSet %s: Redis is external; redis-trial is separate", s.Name)
		}
	}
}

func container(t *testing.T, d *appsv1.Deployment) *corev1.Container {
	t.Helper()
	for i := range d.Spec.Template.Spec.Containers {
		if c := &d.Spec.Template.Spec.Containers[i]; c.Name == "iamsentry" {
			return c
		}
	}
	t.Fatalf("Deployment %s has no container named iamsentry", d.Name)
	return nil
}

// TestDeploymentFlags checks every flag of the Deployment's command line
// against serve's own flag set (cli.ServeFlags).
func TestDeploymentFlags(t *testing.T) {
	for _, dir := range installations {
		t.Run(dir, func(t *testing.T) {
			c := container(t, only[appsv1.Deployment](t, build(t, dir)))
			if len(c.Command) > 0 {
				t.Errorf("command %q replaces the image's entrypoint; use args", c.Command)
			}
			if err := serveArgs(c.Args).check(); err != nil {
				t.Errorf("args %q:\n%v", c.Args, err)
			}
		})
	}
}

// TestProbes checks that each probe reaches a port the container exposes
// and the binary listens on (--listen for gRPC, --admin-listen for HTTP), that
// gRPC readiness asks for server.ServiceName, and that liveness does not
// follow Redis (the server's overall gRPC health status does).
func TestProbes(t *testing.T) {
	for _, dir := range installations {
		t.Run(dir, func(t *testing.T) {
			c := container(t, only[appsv1.Deployment](t, build(t, dir)))
			args := serveArgs(c.Args)
			grpcPort := port(t, args.value("listen", ""))
			adminPort := port(t, args.value("admin-listen", defaultAdminListen))
			exposed := map[int32]string{}
			for _, p := range c.Ports {
				exposed[p.ContainerPort] = p.Name
			}
			if exposed[grpcPort] == "" || exposed[adminPort] == "" {
				t.Fatalf("container ports %v: want %d (gRPC) and %d (admin), named", c.Ports, grpcPort, adminPort)
			}
			check := func(kind string, p *corev1.Probe) {
				switch {
				case p == nil:
					t.Errorf("%s probe: missing", kind)
				case p.GRPC != nil:
					if p.GRPC.Port != grpcPort {
						t.Errorf("%s probe: gRPC port %d, but serve listens on %d", kind, p.GRPC.Port, grpcPort)
					}
					if p.GRPC.Service == nil || *p.GRPC.Service != server.ServiceName {
						t.Errorf("%s probe: gRPC service %v, want %q (server.ServiceName)", kind, p.GRPC.Service, server.ServiceName)
					}
				case p.HTTPGet != nil:
					if got := resolvePort(c, p.HTTPGet.Port); got != adminPort {
						t.Errorf("%s probe: HTTP port %v, but the admin listener is on %d", kind, p.HTTPGet.Port, adminPort)
					}
					if p.HTTPGet.Path != "/healthz" && p.HTTPGet.Path != "/readyz" {
						t.Errorf("%s probe: path %q, want /healthz or /readyz", kind, p.HTTPGet.Path)
					}
				default:
					t.Errorf("%s probe: neither gRPC nor the admin HTTP endpoints", kind)
				}
			}
			check("readiness", c.ReadinessProbe)
			check("liveness", c.LivenessProbe)
			check("startup", c.StartupProbe)
			if p := c.LivenessProbe; p != nil && (p.GRPC != nil || p.HTTPGet != nil && p.HTTPGet.Path == "/readyz") {
				t.Error("liveness probe follows readiness (Redis): a Redis outage would restart every replica")
			}
			if dir == "kubernetes/base" && c.ReadinessProbe != nil && c.ReadinessProbe.GRPC == nil {
				t.Error("base readiness: want the native gRPC probe")
			}
		})
	}
}

func resolvePort(c *corev1.Container, p intstr.IntOrString) int32 {
	if p.Type == intstr.Int {
		return p.IntVal
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return cp.ContainerPort
		}
	}
	return -1
}
