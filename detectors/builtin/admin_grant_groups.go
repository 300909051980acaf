package builtin

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/iamsentry/iamsentry/state"
)

// Group memberships, readable by a creation in the same round trip.
//
// A membership is admin-equivalent when its group holds an admin grant,
// which AddUserToGroup learns only from state, after the batch's round
// trip: too late for a CreateUser queued after it in the same batch. So
// each membership is also written to the user's "groups-joined" set, and
// each group whose admin grant is known from the record itself (an AWS
// managed admin policy, an inline admin policy) to the account's
// "admin-groups" set; a creation reads both and finds the pair itself.

// maxAdminGroups bounds the read of an account's admin groups.
const maxAdminGroups = 256

func (g adminCall) adminGroupsKey() state.Key { return g.ev.Key("iam:"+g.account, "admin-groups") }

func (g adminCall) joinedKey(user string) state.Key {
	return g.ev.Key(g.entity("user", user), "groups-joined")
}

func (g adminCall) rememberAdminGroup(b *state.Batch, group string) {
	at := g.r.EventTime
	b.WindowAdd(g.adminGroupsKey(), group, at, state.Span{From: at, To: at}, adminStateTTL)
}

func (g adminCall) rememberJoin(b *state.Batch, user, group string) {
	at := g.r.EventTime
	member := group + "@" + strconv.FormatInt(at.Unix(), 10)
	b.WindowAdd(g.joinedKey(user), member, at, state.Span{From: at, To: at}, adminFreshWindow+time.Hour)
}

// joins is what a user's creation reads of its memberships.
type joins struct {
	joined, admins *state.Future[state.Window]
}

func (g adminCall) readJoins(b *state.Batch, user string) joins {
	c := g.r.EventTime
	return joins{
		joined: b.WindowRead(g.joinedKey(user), state.Span{From: c, To: c.Add(adminFreshWindow)}, maxAdminGroups),
		admins: b.WindowRead(g.adminGroupsKey(), state.Span{From: c.Add(-adminStateTTL), To: c.Add(adminFreshWindow)}, maxAdminGroups),
	}
}

// adminJoin returns the latest membership of an admin group.
func (j joins) adminJoin() (group string, at time.Time, ok bool, err error) {
	if j.joined == nil {
		return "", time.Time{}, false, nil
	}
	joined, err := j.joined.Get()
	if err != nil {
		return "", time.Time{}, false, err
	}
	admins, err := j.admins.Get()
	if err != nil {
		return "", time.Time{}, false, err
	}
	for _, m := range joined.Members {
		i := strings.LastIndexByte(m, '@')
		sec, perr := strconv.ParseInt(m[i+1:], 10, 64)
		if i < 0 || perr != nil || !slices.Contains(admins.Members, m[:i]) {
			continue
		}
		if t := time.Unix(sec, 0).UTC(); !ok || t.After(at) {
			group, at, ok = m[:i], t, true
		}
	}
	return group, at, ok, nil
}
