package deploy_test

import (
	"bytes"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/iamsentry/iamsentry/server"
)

// composeFile holds the keys compose.yaml uses; decoding is strict, so a key
// outside these (a typo among them) fails.
type composeFile struct {
	Name      string                    `yaml:"name"`
	Iamsentry yaml.Node                 `yaml:"x-iamsentry"`
	Services  map[string]composeService `yaml:"services"`
}

type composeService struct {
	Image string `yaml:"image"`
	Build struct {
		Context    string `yaml:"context"`
		Dockerfile string `yaml:"dockerfile"`
	} `yaml:"build"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	Volumes     []string          `yaml:"volumes"`
	Ports       []string          `yaml:"ports"`
	Profiles    []string          `yaml:"profiles"`
	ReadOnly    bool              `yaml:"read_only"`
	Tmpfs       []string          `yaml:"tmpfs"`
	CapDrop     []string          `yaml:"cap_drop"`
	SecurityOpt []string          `yaml:"security_opt"`
	StopGrace   string            `yaml:"stop_grace_period"`
	Restart     string            `yaml:"restart"`
	DependsOn   map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
	Healthcheck *struct {
		Test     []string `yaml:"test"`
		Interval string   `yaml:"interval"`
		Timeout  string   `yaml:"timeout"`
		Retries  int      `yaml:"retries"`
	} `yaml:"healthcheck"`
}

func readCompose(t *testing.T) composeFile {
	t.Helper()
	data, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var f composeFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	return f
}

// iamsentryReplicas returns the Compose services that run serve.
func iamsentryReplicas(f composeFile) map[string]composeService {
	out := map[string]composeService{}
	for name, s := range f.Services {
		if len(s.Command) > 0 && s.Command[0] == "serve" {
			out[name] = s
		}
	}
	return out
}

// volumeSource returns the host path of a bind mount "src:dst[:ro]" whose
// target is dst, resolved as Compose does (relative to compose.yaml).
func volumeSource(s composeService, dst string) (string, bool) {
	for _, v := range s.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) >= 2 && parts[1] == dst {
			return parts[0], true
		}
	}
	return "", false
}

// TestComposeFlags checks every flag of the replicas' serve command lines
// against cli.ServeFlags.
func TestComposeFlags(t *testing.T) {
	for name, s := range iamsentryReplicas(readCompose(t)) {
		if err := serveArgs(s.Command).check(); err != nil {
			t.Errorf("%s command %q:\n%v", name, s.Command, err)
		}
	}
}

// TestCompose checks the Compose file: two serve replicas sharing the Redis service (with a healthcheck) and the mounted
// config, exporting OTLP to the collector service's receiver; the replay
// service's command is one the binary accepts and goes through Envoy.
func TestCompose(t *testing.T) {
	f := readCompose(t)
	replicas := iamsentryReplicas(f)
	if len(replicas) != 2 {
		t.Fatalf("%d services run serve, want 2 replicas", len(replicas))
	}
	redis, ok := f.Services["redis"]
	if !ok || redis.Healthcheck == nil || len(redis.Healthcheck.Test) == 0 {
		t.Error("redis: want the service, with a healthcheck")
	}
	collector := otlpGRPCReceiver(t)
	for name, s := range replicas {
		args := serveArgs(s.Command)
		if u, err := url.Parse(args.value("redis", "")); err != nil || f.Services[u.Hostname()].Image == "" || u.Port() != "6379" {
			t.Errorf("%s --redis %q: want redis://<the redis service>:6379", name, args.value("redis", ""))
		}
		if s.DependsOn["redis"].Condition != "service_healthy" {
			t.Errorf("%s: want depends_on redis service_healthy", name)
		}
		cfg := args.value("config", "")
		if src, ok := volumeSource(s, cfg); !ok {
			t.Errorf("%s --config %q: no volume mounted there", name, cfg)
		} else if _, err := os.Stat(src); err != nil {
			t.Errorf("%s config volume: %v", name, err)
		}
		if s.Build.Dockerfile != "" {
			if _, err := os.Stat(filepath.Join(s.Build.Context, s.Build.Dockerfile)); err != nil {
				t.Errorf("%s build: %v", name, err)
			}
		}
		u, err := url.Parse(s.Environment["OTEL_EXPORTER_OTLP_ENDPOINT"])
		if err != nil || f.Services[u.Hostname()].Image == "" || u.Port() != collector {
			t.Errorf("%s OTEL_EXPORTER_OTLP_ENDPOINT %q: want http://<the collector service>:%s", name, s.Environment["OTEL_EXPORTER_OTLP_ENDPOINT"], collector)
		}
	}
	replay, ok := f.Services["replay"]
	if !ok {
		t.Fatal("no replay service: the one-line way to send the sample data")
	}
	if err := checkCommand(replay.Command); err != nil {
		t.Errorf("replay command %q: %v", replay.Command, err)
	}
	addr := argValue(replay.Command, "addr")
	host, p, err := net.SplitHostPort(addr)
	if err != nil || f.Services[host].Image == "" {
		t.Errorf("replay --addr %q: want a Compose service", addr)
	} else if host == "envoy" && p != envoyListenerPort(t) {
		t.Errorf("replay --addr %q: Envoy listens on %s", addr, envoyListenerPort(t))
	}
	if data := replay.Command[len(replay.Command)-1]; !slices.ContainsFunc(replay.Volumes, func(v string) bool {
		return strings.Contains(v, ":"+data+":") || strings.HasSuffix(v, ":"+data)
	}) {
		t.Errorf("replay reads %s, but no volume is mounted there", data)
	}
}

func argValue(args []string, name string) string {
	for i, a := range args {
		if n, v, ok := splitFlag(a); n == name {
			if ok {
				return v
			}
			if i+1 < len(args) {
				return args[i+1]
			}
		}
	}
	return ""
}

func otlpGRPCReceiver(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("otelcol.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Receivers struct {
			OTLP struct {
				Protocols struct {
					GRPC struct {
						Endpoint string `yaml:"endpoint"`
					} `yaml:"grpc"`
				} `yaml:"protocols"`
			} `yaml:"otlp"`
		} `yaml:"receivers"`
		Service struct {
			Pipelines map[string]struct {
				Receivers []string `yaml:"receivers"`
			} `yaml:"pipelines"`
		} `yaml:"service"`
	}
	if err := yaml.Unmarshal(data, &c); err != nil {
		t.Fatalf("otelcol.yaml: %v", err)
	}
	for _, sig := range []string{"traces", "metrics"} {
		if !slices.Contains(c.Service.Pipelines[sig].Receivers, "otlp") {
			t.Errorf("otelcol.yaml: the %s pipeline does not use the otlp receiver", sig)
		}
	}
	_, p, err := net.SplitHostPort(c.Receivers.OTLP.Protocols.GRPC.Endpoint)
	if err != nil {
		t.Fatalf("otelcol.yaml otlp grpc endpoint: %v", err)
	}
	return p
}

// envoyConfig holds the parts of envoy.yaml the checks read.
type envoyConfig struct {
	StaticResources struct {
		Listeners []struct {
			Address struct {
				SocketAddress struct {
					PortValue int `yaml:"port_value"`
				} `yaml:"socket_address"`
			} `yaml:"address"`
			FilterChains []struct {
				Filters []struct {
					TypedConfig struct {
						StreamIdleTimeout string `yaml:"stream_idle_timeout"`
						RouteConfig       struct {
							VirtualHosts []struct {
								Routes []struct {
									Route struct {
										Cluster string `yaml:"cluster"`
										Timeout string `yaml:"timeout"`
									} `yaml:"route"`
								} `yaml:"routes"`
							} `yaml:"virtual_hosts"`
						} `yaml:"route_config"`
					} `yaml:"typed_config"`
				} `yaml:"filters"`
			} `yaml:"filter_chains"`
		} `yaml:"listeners"`
		Clusters []struct {
			Name            string `yaml:"name"`
			LbPolicy        string `yaml:"lb_policy"`
			ProtocolOptions map[string]struct {
				ExplicitHTTPConfig struct {
					HTTP2 *struct {
						ConnectionKeepalive struct {
							Interval string `yaml:"interval"`
						} `yaml:"connection_keepalive"`
					} `yaml:"http2_protocol_options"`
				} `yaml:"explicit_http_config"`
			} `yaml:"typed_extension_protocol_options"`
			HealthChecks []struct {
				GRPC *struct {
					ServiceName string `yaml:"service_name"`
				} `yaml:"grpc_health_check"`
			} `yaml:"health_checks"`
			LoadAssignment struct {
				Endpoints []struct {
					LbEndpoints []struct {
						Endpoint struct {
							Address struct {
								SocketAddress struct {
									Address   string `yaml:"address"`
									PortValue int    `yaml:"port_value"`
								} `yaml:"socket_address"`
							} `yaml:"address"`
						} `yaml:"endpoint"`
					} `yaml:"lb_endpoints"`
				} `yaml:"endpoints"`
			} `yaml:"load_assignment"`
		} `yaml:"clusters"`
	} `yaml:"static_resources"`
}

func readEnvoy(t *testing.T) envoyConfig {
	t.Helper()
	data, err := os.ReadFile("envoy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var c envoyConfig
	if err := yaml.Unmarshal(data, &c); err != nil {
		t.Fatalf("envoy.yaml: %v", err)
	}
	if len(c.StaticResources.Listeners) != 1 || len(c.StaticResources.Clusters) != 1 {
		t.Fatalf("envoy.yaml: want one listener and one cluster")
	}
	return c
}

func envoyListenerPort(t *testing.T) string {
	return strconv.Itoa(readEnvoy(t).StaticResources.Listeners[0].Address.SocketAddress.PortValue)
}

// TestEnvoy checks what long-lived gRPC streams need from Envoy: routes
// without a timeout, an idle timeout longer than the server's connection
// age, HTTP/2 upstream, round_robin over exactly the Compose replicas on
// their gRPC port, gRPC health checks on server.ServiceName, and keepalive
// pings no more often than the server permits.
func TestEnvoy(t *testing.T) {
	c := readEnvoy(t)
	cl := c.StaticResources.Clusters[0]
	for _, fc := range c.StaticResources.Listeners[0].FilterChains {
		for _, f := range fc.Filters {
			idle, err := time.ParseDuration(f.TypedConfig.StreamIdleTimeout)
			if err != nil || idle < server.DefaultMaxConnectionAge {
				t.Errorf("stream_idle_timeout %q: want at least --max-connection-age (%v), or quiet Watch streams are cut", f.TypedConfig.StreamIdleTimeout, server.DefaultMaxConnectionAge)
			}
			for _, vh := range f.TypedConfig.RouteConfig.VirtualHosts {
				for _, r := range vh.Routes {
					if r.Route.Timeout != "0s" {
						t.Errorf("route timeout %q: want 0s (disabled) for long-lived streams", r.Route.Timeout)
					}
					if r.Route.Cluster != cl.Name {
						t.Errorf("route to cluster %q, want %q", r.Route.Cluster, cl.Name)
					}
				}
			}
		}
	}
	if cl.LbPolicy != "ROUND_ROBIN" {
		t.Errorf("lb_policy %q, want ROUND_ROBIN", cl.LbPolicy)
	}
	opts, ok := cl.ProtocolOptions["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]
	if !ok || opts.ExplicitHTTPConfig.HTTP2 == nil {
		t.Fatal("cluster: want explicit HTTP/2 upstream (gRPC)")
	}
	if ka, err := time.ParseDuration(opts.ExplicitHTTPConfig.HTTP2.ConnectionKeepalive.Interval); err == nil && ka < server.DefaultKeepaliveMinTime {
		t.Errorf("upstream keepalive %v is below the server's --keepalive-min-time %v: the server would end connections", ka, server.DefaultKeepaliveMinTime)
	}
	if len(cl.HealthChecks) == 0 || cl.HealthChecks[0].GRPC == nil || cl.HealthChecks[0].GRPC.ServiceName != server.ServiceName {
		t.Errorf("health checks: want grpc_health_check on %q", server.ServiceName)
	}
	replicas := iamsentryReplicas(readCompose(t))
	var got []string
	for _, e := range cl.LoadAssignment.Endpoints {
		for _, le := range e.LbEndpoints {
			sa := le.Endpoint.Address.SocketAddress
			got = append(got, sa.Address)
			s, ok := replicas[sa.Address]
			if !ok {
				t.Errorf("endpoint %s is not a Compose replica", sa.Address)
				continue
			}
			if want := port(t, serveArgs(s.Command).value("listen", "")); int32(sa.PortValue) != want {
				t.Errorf("endpoint %s:%d, but the replica listens on %d", sa.Address, sa.PortValue, want)
			}
		}
	}
	if len(got) != len(replicas) {
		t.Errorf("endpoints %v: want every Compose replica", got)
	}
}

// TestComposeReplayDataExists checks that the replay service's default data
// folder (${IAMSENTRY_DATA:-…}) is in a clone of the repository, so
// `docker compose run replay` works without setting IAMSENTRY_DATA.
func TestComposeReplayDataExists(t *testing.T) {
	f := readCompose(t)
	s, ok := f.Services["replay"]
	if !ok {
		t.Fatal("compose.yaml has no replay service")
	}
	for _, v := range s.Volumes {
		if !strings.HasSuffix(v, ":/data:ro") {
			continue
		}
		src := strings.TrimSuffix(v, ":/data:ro")
		if def, ok := strings.CutPrefix(src, "${IAMSENTRY_DATA:-"); ok {
			src = strings.TrimSuffix(def, "}")
		}
		if _, err := os.Stat(src); err != nil {
			t.Errorf("replay's default data folder %q (relative to deploy/): %v", src, err)
		}
		return
	}
	t.Error("replay service mounts nothing at /data")
}
