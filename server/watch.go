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

// Watch implements DetectionService. The response headers are sent once the
// watcher is subscribed, so a client that has them misses nothing raised
// afterwards.
func (s *service) Watch(req *iamsentryv1.WatchRequest, stream iamsentryv1.DetectionService_WatchServer) error {
	if req.GetMinSeverity() < 0 || req.GetMinSeverity() > iamsentryv1.Severity_SEVERITY_CRITICAL {
		return status.Errorf(codes.InvalidArgument, "min_severity %d is not a severity", req.GetMinSeverity())
	}
	// A watcher sees its own tenant's findings only.
	sub := s.hub.Subscribe(auth.Tenant(stream.Context()), findings.Filter{
		MinSeverity:       req.GetMinSeverity(),
		Detectors:         req.GetDetectorIds(),
		IncludeSuppressed: req.GetIncludeSuppressed(),
	}, s.opts.WatchBuffer)
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
		}
	}
}
