package policy_test

import (
	"testing"

	"github.com/iamsentry/iamsentry/detectors/policy"
)

// BenchmarkAnalyze measures one typical managed-policy document as CloudTrail
// carries it (a JSON string) and one trust policy.
func BenchmarkAnalyze(b *testing.B) {
	docs := map[string][]byte{
		"managed": str(`{"Version":"2012-10-17","Statement":[{"Sid":"S3","Effect":"Allow","Action":["s3:GetObject","s3:PutObject","s3:ListBucket"],"Resource":["arn:aws:s3:::app-bucket","arn:aws:s3:::app-bucket/*"]},{"Effect":"Allow","Action":"iam:PassRole","Resource":"arn:aws:iam::111122223333:role/app-*","Condition":{"StringEquals":{"iam:PassedToService":"lambda.amazonaws.com"}}},{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`),
		"trust":   str(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::999988887777:root","Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"x"}}}]}`),
	}
	for name, doc := range docs {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(doc)))
			for b.Loop() {
				if _, err := policy.Analyze(doc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
