package redistest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Cluster is a Redis Cluster of masters only, every slot assigned.
type Cluster struct {
	t     testing.TB
	Nodes []*Server
}

// StartCluster starts masters cluster-enabled redis-server nodes (3 is the
// least redis-cli accepts), joins them with `redis-cli --cluster create`
// and waits until every node reports cluster_state:ok. The nodes stop when
// the test ends.
func StartCluster(t testing.TB, masters int) *Cluster {
	t.Helper()
	requireBinaries(t, "redis-server", "redis-cli")
	if masters < 3 {
		t.Fatalf("redistest: a cluster needs at least 3 masters, got %d", masters)
	}
	c := &Cluster{t: t}
	root := t.TempDir()
	for i := range masters {
		dir := filepath.Join(root, "node"+strconv.Itoa(i))
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		c.Nodes = append(c.Nodes, startServer(t, dir,
			"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", "5000"))
	}
	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "redis-cli", args...).CombinedOutput(); err != nil {
		t.Fatalf("redistest: redis-cli --cluster create: %v\n%s", err, out)
	}
	c.waitOK(ctx)
	return c
}

// Addrs returns the nodes' host:port addresses.
func (c *Cluster) Addrs() []string {
	addrs := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		addrs[i] = n.Addr()
	}
	return addrs
}

// URL returns a redis:// URL listing every node, which means Cluster.
func (c *Cluster) URL() string { return "redis://" + strings.Join(c.Addrs(), ",") }

// SeedURL returns a redis:// URL of the first node only, with cluster=true:
// a cluster reached through one seed node.
func (c *Cluster) SeedURL() string { return c.Nodes[0].URL() + "?cluster=true" }

// Client returns a go-redis cluster client, closed when the test ends.
func (c *Cluster) Client() *goredis.ClusterClient {
	cc := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: c.Addrs(), DisableIdentity: true})
	c.t.Cleanup(func() { cc.Close() })
	return cc
}

// waitOK polls CLUSTER INFO on every node until all report state ok and
// agree on all 16384 slots.
func (c *Cluster) waitOK(ctx context.Context) {
	c.t.Helper()
	for _, n := range c.Nodes {
		cl := goredis.NewClient(&goredis.Options{Addr: n.Addr(), DisableIdentity: true})
		for {
			info, err := cl.ClusterInfo(ctx).Result()
			if err == nil && strings.Contains(info, "cluster_state:ok") && strings.Contains(info, "cluster_slots_ok:16384") &&
				strings.Contains(info, fmt.Sprintf("cluster_known_nodes:%d", len(c.Nodes))) {
				break
			}
			if ctx.Err() != nil {
				cl.Close()
				c.t.Fatalf("redistest: node %s never reached cluster_state:ok: %v\n%s", n.Addr(), err, info)
			}
			time.Sleep(50 * time.Millisecond)
		}
		cl.Close()
	}
}
