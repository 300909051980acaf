package server

import (
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/iamsentry/iamsentry/engine"
	"github.com/iamsentry/iamsentry/engine/story"
	iamsentryv1 "github.com/iamsentry/iamsentry/gen/iamsentry/v1"
	"github.com/iamsentry/iamsentry/server/auth"
	"github.com/iamsentry/iamsentry/server/findings"
)

// publishFindings is the batcher's hook: it hands the findings the engine
// says were never handed out before (first deliveries, and redeliveries of
// events whose first scoring lost a store reply) to the dispatcher, which
// never blocks.
func (s *Server) publishFindings(tenant string, verdicts []engine.Verdict) {
	var out []*iamsentryv1.Finding
	var sts []story.Story
	for i := range verdicts {
		for j := range verdicts[i].Findings {
			out = append(out, findingProto(&verdicts[i].Findings[j]))
		}
		sts = append(sts, verdicts[i].Stories...)
	}
	s.out.Findings(tenant, out)
	s.out.Stories(tenant, sts)
}

// watchContents maps what a Watch call asks for to what its subscription
// takes: findings (unless NoFindings) and story updates (Stories).
var watchContents = map[iamsentryv1.WatchContent]findings.Filter{
	iamsentryv1.WatchContent_WATCH_CONTENT_UNSPECIFIED:          {},
	iamsentryv1.WatchContent_WATCH_CONTENT_FINDINGS:             {},
	iamsentryv1.WatchContent_WATCH_CONTENT_STORIES:              {Stories: true, NoFindings: true},
	iamsentryv1.WatchContent_WATCH_CONTENT_FINDINGS_AND_STORIES: {Stories: true},
}

// watchFilter checks req and returns the subscription filter it asks for.
func watchFilter(req *iamsentryv1.WatchRequest) (findings.Filter, error) {
	if req.GetMinSeverity() < 0 || req.GetMinSeverity() > iamsentryv1.Severity_SEVERITY_CRITICAL {
		return findings.Filter{}, status.Errorf(codes.InvalidArgument, "min_severity %d is not a severity", req.GetMinSeverity())
	}
	fl, ok := watchContents[req.GetContent()]
	if !ok {
		return findings.Filter{}, status.Errorf(codes.InvalidArgument,
			"content %d is not a watch content (want FINDINGS, STORIES or FINDINGS_AND_STORIES)", req.GetContent())
	}
	fl.MinSeverity, fl.Detectors, fl.IncludeSuppressed = req.GetMinSeverity(), req.GetDetectorIds(), req.GetIncludeSuppressed()
	return fl, nil
}

// Watch implements DetectionService. The response headers are sent once the
// watcher is subscribed, so a client that has them misses nothing raised
// afterwards.
func (s *service) Watch(req *iamsentryv1.WatchRequest, stream iamsentryv1.DetectionService_WatchServer) error {
	fl, err := watchFilter(req)
	if err != nil {
		return err
	}
	// A watcher sees its own tenant's findings and stories only.
	sub := s.hub.Subscribe(auth.Tenant(stream.Context()), fl, s.opts.WatchBuffer)
	defer sub.Close()
	if err := stream.SendHeader(metadata.MD{}); err != nil {
		return err
	}
	ctx := stream.Context()
	for {
		select {
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		case <-s.stopping:
			return status.Error(codes.Unavailable, "server is shutting down; reconnect to tail findings from another replica")
		case f := <-sub.C():
			if err := stream.Send(&iamsentryv1.WatchResponse{Finding: f, Dropped: sub.Dropped()}); err != nil {
				return err
			}
		case st := <-sub.Stories():
			if err := sendStory(stream, sub, st); err != nil {
				return err
			}
		}
	}
}

// sendStory sends a story update after the findings already waiting: the
// hub delivered those first, and among them are the findings that changed
// the story, which a watcher should read before it.
func sendStory(stream iamsentryv1.DetectionService_WatchServer, sub *findings.Subscription, st *iamsentryv1.Story) error {
	for range len(sub.C()) { // only those already waiting: later ones are not this story's
		if err := stream.Send(&iamsentryv1.WatchResponse{Finding: <-sub.C(), Dropped: sub.Dropped()}); err != nil {
			return err
		}
	}
	return stream.Send(&iamsentryv1.WatchResponse{Story: st, Dropped: sub.Dropped()})
}
