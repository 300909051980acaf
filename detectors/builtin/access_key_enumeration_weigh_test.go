package builtin

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/state"
)

// TestEnumerationShortcutsWeighAsWeigh: score (the tally-free weighing)
// and crosses (which skips weighing when the count decides) answer what
// weigh's score says, for windows of sensitive, denied, Cloud Control and
// plain reads, whole or cut at their limit, under several weights, with
// and without window tags.
func TestEnumerationShortcutsWeighAsWeigh(t *testing.T) {
	reads := []string{"ec2:DescribeInstances", "iam:ListUsers", "iam:ListRoles!", "s3:ListBuckets",
		"ssm:GetParameters", "ssm:DescribeInstanceInformation", "kms:ListKeys", "lambda:ListFunctions",
		"cloudcontrolapi:ListResources(AWS::SecretsManager::Secret)", "cloudcontrolapi:ListResources(AWS::EC2::VPC)",
		"rds:DescribeDBInstances!", "sns:ListTopics", "sqs:ListQueues", "organizations:DescribeOrganization"}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, weight := range []int{1, 2, 5} {
		d, err := NewAccessKeyEnumeration(detectors.Config{})
		if err != nil {
			t.Fatal(err)
		}
		ake := d.(*AccessKeyEnumeration)
		ake.opts.SensitiveWeight = weight
		for range 2000 {
			n := rng.IntN(len(reads) + 1)
			members := make([]string, n)
			for i, j := range rng.Perm(len(reads))[:n] {
				members[i] = reads[j]
			}
			w := state.Window{Count: n + rng.IntN(3)*rng.IntN(20), Members: members}
			want := ake.weigh(w, 0).score
			tag := "7Q"[:rng.IntN(3)]
			tagged := state.Window{Count: w.Count, Members: make([]string, n)}
			for i, m := range members {
				tagged.Members[i] = tag + m
			}
			if got := ake.weigh(tagged, len(tag)); got.score != want || !slices.Equal(got.sample, members[:min(n, enumSample)]) {
				t.Fatalf("weight %d, window %+v tagged %q: weigh %+v, untagged score %d", weight, w, tag, got, want)
			}
			if got := ake.score(tagged, len(tag)); got != want {
				t.Fatalf("weight %d, window %+v tagged %q: score %d, weigh says %d", weight, w, tag, got, want)
			}
			for threshold := 2; threshold <= 50; threshold++ {
				if got := ake.crosses(tagged, len(tag), threshold); got != (want >= threshold) {
					t.Fatalf("weight %d, window %+v, threshold %d: crosses %v, weigh's score is %d", weight, w, threshold, got, want)
				}
			}
		}
	}
}
