package deploy_test

import (
	"path"
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/iamsentry/iamsentry/config"
	"github.com/iamsentry/iamsentry/detectors/builtin"
)

func selects(t *testing.T, what string, sel *metav1.LabelSelector, d *appsv1.Deployment) {
	t.Helper()
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil || s.Empty() || !s.Matches(labels.Set(d.Spec.Template.Labels)) {
		t.Errorf("%s selector %v does not select the Deployment's pods %v (%v)", what, sel, d.Spec.Template.Labels, err)
	}
}

// TestConfigMap checks that the config file the Deployment reads is the
// rendered ConfigMap's (name, key and mount path agree) and that iamsentry's
// own validation accepts it.
func TestConfigMap(t *testing.T) {
	for _, dir := range installations {
		t.Run(dir, func(t *testing.T) {
			objs := build(t, dir)
			d := only[appsv1.Deployment](t, objs)
			cm := only[corev1.ConfigMap](t, objs)
			c := container(t, d)
			file := serveArgs(c.Args).value("config", "")
			var mount *corev1.VolumeMount
			for i, m := range c.VolumeMounts {
				if m.MountPath == path.Dir(file) {
					mount = &c.VolumeMounts[i]
				}
			}
			if mount == nil {
				t.Fatalf("--config %q: no volume is mounted at %s", file, path.Dir(file))
			}
			i := slices.IndexFunc(d.Spec.Template.Spec.Volumes, func(v corev1.Volume) bool { return v.Name == mount.Name })
			if i < 0 || d.Spec.Template.Spec.Volumes[i].ConfigMap == nil || d.Spec.Template.Spec.Volumes[i].ConfigMap.Name != cm.Name {
				t.Fatalf("--config %q: volume %s is not ConfigMap %s", file, mount.Name, cm.Name)
			}
			data, ok := cm.Data[path.Base(file)]
			if !ok {
				t.Fatalf("ConfigMap %s has no key %s", cm.Name, path.Base(file))
			}
			if _, err := config.ParseAndBuild([]byte(data), builtin.Specs()); err != nil {
				t.Fatalf("iamsentry refuses ConfigMap %s:\n%v", cm.Name, err)
			}
		})
	}
}

// TestSecretsByReference checks that Redis credentials come from a Secret
// reference in REDIS_URL (which serve reads) and TLS files from a Secret
// volume, never from values in the manifests.
func TestSecretsByReference(t *testing.T) {
	for _, dir := range installations {
		t.Run(dir, func(t *testing.T) {
			d := only[appsv1.Deployment](t, build(t, dir))
			c := container(t, d)
			i := slices.IndexFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == "REDIS_URL" })
			if i < 0 || c.Env[i].Value != "" || c.Env[i].ValueFrom == nil || c.Env[i].ValueFrom.SecretKeyRef == nil {
				t.Error("REDIS_URL: want a secretKeyRef")
			}
			if args := serveArgs(c.Args); args.value("redis", "") != "" {
				t.Error("--redis on the command line: credentials would show in the pod spec; use REDIS_URL from the Secret")
			}
			if serveArgs(c.Args).value("tls-cert", "") == "" {
				return
			}
			for _, v := range d.Spec.Template.Spec.Volumes {
				if v.Secret != nil {
					return
				}
			}
			t.Error("--tls-cert given but no Secret volume holds it")
		})
	}
}

// TestPodHardening checks the pod runs as non-root with a read-only root
// filesystem and no capabilities, with requests and limits.
func TestPodHardening(t *testing.T) {
	for _, dir := range installations {
		t.Run(dir, func(t *testing.T) {
			d := only[appsv1.Deployment](t, build(t, dir))
			ps, c := d.Spec.Template.Spec.SecurityContext, container(t, d)
			sc := c.SecurityContext
			switch {
			case ps == nil || ps.RunAsNonRoot == nil || !*ps.RunAsNonRoot || ps.RunAsUser == nil || *ps.RunAsUser == 0:
				t.Error("pod: want runAsNonRoot and a non-zero runAsUser")
			case sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
				t.Error("container: want readOnlyRootFilesystem")
			case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
				t.Error("container: want allowPrivilegeEscalation false")
			case sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL"):
				t.Error("container: want capabilities drop ALL")
			}
			for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				if _, ok := c.Resources.Requests[r]; !ok {
					t.Errorf("resources.requests.%s missing", r)
				}
			}
			if _, ok := c.Resources.Limits[corev1.ResourceMemory]; !ok {
				t.Error("resources.limits.memory missing")
			}
			if len(d.Spec.Template.Spec.TopologySpreadConstraints) == 0 {
				t.Error("no topologySpreadConstraints")
			}
			for _, tsc := range d.Spec.Template.Spec.TopologySpreadConstraints {
				selects(t, "topologySpreadConstraint", tsc.LabelSelector, d)
			}
		})
	}
}

// TestServicesAndPolicies checks the Services, PDB, HPA and NetworkPolicy
// select the Deployment's pods and reach its ports.
func TestServicesAndPolicies(t *testing.T) {
	for _, dir := range installations {
		t.Run(dir, func(t *testing.T) {
			objs := build(t, dir)
			d := only[appsv1.Deployment](t, objs)
			c := container(t, d)
			grpcPort := port(t, serveArgs(c.Args).value("listen", ""))
			adminPort := port(t, serveArgs(c.Args).value("admin-listen", defaultAdminListen))
			var headless, clusterIP int
			for _, s := range all[corev1.Service](objs) {
				selects(t, "Service "+s.Name, &metav1.LabelSelector{MatchLabels: s.Spec.Selector}, d)
				if s.Spec.ClusterIP == corev1.ClusterIPNone {
					headless++
				} else {
					clusterIP++
				}
				var grpc bool
				for _, p := range s.Spec.Ports {
					if resolvePort(c, p.TargetPort) < 0 {
						t.Errorf("Service %s port %s: target %v is no container port", s.Name, p.Name, p.TargetPort)
					}
					grpc = grpc || resolvePort(c, p.TargetPort) == grpcPort
				}
				if !grpc {
					t.Errorf("Service %s does not reach the gRPC port %d", s.Name, grpcPort)
				}
			}
			if headless != 1 || clusterIP != 1 {
				t.Errorf("Services: %d headless and %d ClusterIP, want one of each", headless, clusterIP)
			}
			pdb := only[policyv1.PodDisruptionBudget](t, objs)
			selects(t, "PodDisruptionBudget", pdb.Spec.Selector, d)
			hpa := only[autoscalingv2.HorizontalPodAutoscaler](t, objs)
			if ref := hpa.Spec.ScaleTargetRef; ref.Kind != "Deployment" || ref.Name != d.Name {
				t.Errorf("HPA targets %s %s, want Deployment %s", ref.Kind, ref.Name, d.Name)
			}
			if len(hpa.Spec.Metrics) == 0 || hpa.Spec.Metrics[0].Resource == nil || hpa.Spec.Metrics[0].Resource.Name != corev1.ResourceCPU {
				t.Error("HPA: want a CPU resource metric")
			}
			if hpa.Spec.MinReplicas == nil || *hpa.Spec.MinReplicas < 2 {
				t.Error("HPA minReplicas: want at least 2 (the PDB lets one go)")
			}
			np := only[networkingv1.NetworkPolicy](t, objs)
			selects(t, "NetworkPolicy", &np.Spec.PodSelector, d)
			for _, want := range []int32{grpcPort, adminPort} {
				if !slices.ContainsFunc(np.Spec.Ingress, func(r networkingv1.NetworkPolicyIngressRule) bool {
					return len(r.From) > 0 && slices.ContainsFunc(r.Ports, func(p networkingv1.NetworkPolicyPort) bool {
						return p.Port != nil && p.Port.IntVal == want
					})
				}) {
					t.Errorf("NetworkPolicy: no ingress rule admits selected peers to port %d", want)
				}
			}
			for _, want := range []int32{6379, 53} {
				if !slices.ContainsFunc(np.Spec.Egress, func(r networkingv1.NetworkPolicyEgressRule) bool {
					return slices.ContainsFunc(r.Ports, func(p networkingv1.NetworkPolicyPort) bool {
						return p.Port != nil && p.Port.IntVal == want
					})
				}) {
					t.Errorf("NetworkPolicy: no egress rule to port %d (Redis, DNS)", want)
				}
			}
		})
	}
}
