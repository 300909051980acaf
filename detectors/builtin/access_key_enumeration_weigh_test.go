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

// TestEnumerationSensitiveReadAsMaps: sensitiveRead, which files the
// Sensitive entries by service, says what looking up the service and the
// action in Sensitive says, for the members windows hold (plain, denied,
// Cloud Control, odd ones) under lists of services, actions and Cloud
// Control actions.
func TestEnumerationSensitiveReadAsMaps(t *testing.T) {
	actions := []string{"ec2:DescribeInstances", "iam:ListUsers", "ssm:GetParameters", "ssm:DescribeInstanceInformation",
		"sts:GetAccessKeyInfo", "sts:GetCallerIdentity", "cloudcontrolapi:ListResources(AWS::SecretsManager::Secret)",
		"cloudcontrolapi:ListResources(AWS::SSM::Parameter)", "cloudcontrolapi:ListResources", "cloudcontrolapi:GetResource(AWS::IAM::Role)",
		"cloudcontrolapi:ListResources(AWS::a:b::R)", "a:b", "x:y(z)", "s3:ListBuckets", "kms:ListKeys"}
	lists := [][]string{
		nil,
		DefaultAccessKeyEnumerationOptions().Sensitive,
		{"ssm:GetParameters", "cloudcontrolapi:GetResource(AWS::IAM::Role)", "a:b", "x:y(z)"},
		{"cloudcontrolapi", "secretsmanager", "ssm", "y(z)", "b"},
	}
	for _, list := range lists {
		opts := DefaultAccessKeyEnumerationOptions()
		opts.Sensitive = list
		d, err := NewAccessKeyEnumeration(detectors.Config{})
		if err != nil {
			t.Fatal(err)
		}
		ake := d.(*AccessKeyEnumeration)
		ake.setSensitive(list)
		for _, a := range actions {
			svc := memberService(a)
			if got, want := ake.sensitiveRead(svc, a), ake.sensitive[svc] || ake.sensitive[a]; got != want {
				t.Errorf("sensitive %q: read %q (service %q) sensitive %v, the maps say %v", list, a, svc, got, want)
			}
		}
	}
}
