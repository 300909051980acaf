package deploy_test

import (
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
)

// wantPolicy is the only maxmemory-policy iamsentry runs on without
// allow_eviction=true: an evicting policy drops detection state (dedupe
// claims, windows) under an identity flood, and serve refuses it.
const wantPolicy = "noeviction"

// flagValue returns the argument after flag in args, or "".
func flagValue(args []string, flag string) string {
	if i := slices.Index(args, flag); i >= 0 && i+1 < len(args) {
		return args[i+1]
	}
	return ""
}

// TestRedisNeverEvicts checks that every Redis the deploy files start runs
// noeviction with a maxmemory: full, it refuses writes (iamsentry answers
// UNAVAILABLE and turns NOT_SERVING) instead of forgetting state.
func TestRedisNeverEvicts(t *testing.T) {
	c := readCompose(t).Services["redis"]
	if got := flagValue(c.Command, "--maxmemory-policy"); got != wantPolicy {
		t.Errorf("compose.yaml: redis runs --maxmemory-policy %q, want %q", got, wantPolicy)
	}
	if flagValue(c.Command, "--maxmemory") == "" {
		t.Error("compose.yaml: redis has no --maxmemory: it would grow until the host kills it")
	}
	s := only[appsv1.StatefulSet](t, build(t, "kubernetes/redis-trial"))
	for _, ctr := range s.Spec.Template.Spec.Containers {
		args := append(slices.Clone(ctr.Command), ctr.Args...)
		if got := flagValue(args, "--maxmemory-policy"); got != wantPolicy {
			t.Errorf("redis-trial container %s runs --maxmemory-policy %q, want %q", ctr.Name, got, wantPolicy)
		}
		if flagValue(args, "--maxmemory") == "" {
			t.Errorf("redis-trial container %s has no --maxmemory: it would grow until its memory limit kills it", ctr.Name)
		}
	}
}
