package iamsentry_test

import (
	"context"
	"fmt"
	"log"

	"github.com/iamsentry/iamsentry/clients/iamsentry"
)

// A shipper's loop: records go in as they are read, results come back in
// the same order with the tag given to Send, and Close drains.
func ExampleStream() {
	c, err := iamsentry.Dial("dns:///iamsentry-headless.soc.svc.cluster.local:50051",
		iamsentry.WithTLS(iamsentry.TLS{CAFile: "/etc/iamsentry/ca.pem"}),
		iamsentry.WithTokenFile("/var/run/secrets/iamsentry/token"),
		iamsentry.WithStreams(3)) // one gRPC stream per replica
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close(context.Background())

	ctx := context.Background()
	s, err := c.NewStream(ctx)
	if err != nil {
		log.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for r := range s.Results() {
			if r.Err != nil {
				log.Printf("record %v got no verdict: %v", r.Tag, r.Err)
				continue
			}
			for _, f := range r.Verdict.GetFindings() {
				line, _ := iamsentry.MarshalFinding(f)
				fmt.Printf("%s\n", line)
			}
		}
	}()
	for i, rec := range [][]byte{[]byte(`{"eventID":"…"}`)} {
		if err := s.Send(ctx, rec, i); err != nil {
			log.Fatal(err)
		}
	}
	if err := s.Close(ctx); err != nil {
		log.Print(err)
	}
	<-done
}

// One call, one verdict per record.
func ExampleClient_Score() {
	c, err := iamsentry.Dial("localhost:50051")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close(context.Background())
	verdicts, err := c.Score(context.Background(), [][]byte{[]byte(`{"eventID":"…"}`)})
	if err != nil && iamsentry.IsRetryable(err) {
		log.Print("try again later: ", err)
	}
	for _, v := range verdicts {
		fmt.Println(v.GetOutcome())
	}
}
