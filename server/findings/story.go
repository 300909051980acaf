package findings

import (
	"context"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/iamsentry/iamsentry/engine/story"
	iamsentryv1 "github.com/iamsentry/iamsentry/gen/iamsentry/v1"
)

// StoryProto returns st as the public API carries it, on Watch and on
// verdicts. Severities are numbered alike in both worlds.
func StoryProto(st *story.Story) *iamsentryv1.Story {
	out := &iamsentryv1.Story{
		Id:             st.ID,
		Severity:       iamsentryv1.Severity(st.Severity),
		Identities:     st.Identities,
		Incidents:      st.Incidents,
		FirstEventTime: timestamppb.New(st.FirstEventTime),
		LastEventTime:  timestamppb.New(st.LastEventTime),
		Summary:        st.Summary,
		Supersedes:     st.Supersedes,
	}
	for _, g := range st.Stages {
		out.Stages = append(out.Stages, string(g))
	}
	return out
}

// StoryBus is a Bus that also carries story updates to every replica's
// Hub. The dispatcher hands story updates to Watch only through a StoryBus
// (or, without a Bus, to its own Hub).
type StoryBus interface {
	Bus
	// PublishStories sends tenant's story updates to every replica, this
	// one included. It is called from the goroutine that calls Publish, after
	// the findings of the same scoring, so a replica that receives both
	// in order delivers them in order.
	PublishStories(ctx context.Context, tenant string, sts []*iamsentryv1.Story) error
}
