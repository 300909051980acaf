package redis_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/state/redis"
)

func TestParseOptions(t *testing.T) {
	tests := []struct {
		in   string
		want redis.Options
	}{
		{"localhost", redis.Options{Addrs: []string{"localhost:6379"}}},
		{"10.0.0.1:7000", redis.Options{Addrs: []string{"10.0.0.1:7000"}}},
		{"[::1]:7000", redis.Options{Addrs: []string{"[::1]:7000"}}},
		{"h1:7000, h2:7001", redis.Options{Addrs: []string{"h1:7000", "h2:7001"}, Cluster: true}},
		{"redis://host", redis.Options{Addrs: []string{"host:6379"}}},
		{"redis://user:p%40ss@host:6380/2", redis.Options{Addrs: []string{"host:6380"}, Username: "user", Password: "p@ss", DB: 2}},
		{"redis://:secret@host/", redis.Options{Addrs: []string{"host:6379"}, Password: "secret"}},
		{"redis://host?db=3&prefix=prod:", redis.Options{Addrs: []string{"host:6379"}, DB: 3, Prefix: "prod:"}},
		{"rediss://host:6380?tls_ca_file=/ca.pem&tls_cert_file=/c.pem&tls_key_file=/k.pem&tls_server_name=redis.internal",
			redis.Options{Addrs: []string{"host:6380"}, TLS: true, TLSCAFile: "/ca.pem", TLSCertFile: "/c.pem", TLSKeyFile: "/k.pem", TLSServerName: "redis.internal"}},
		{"rediss://host?tls_insecure_skip_verify=true", redis.Options{Addrs: []string{"host:6379"}, TLS: true, TLSInsecureSkipVerify: true}},
		{"redis://h1:7000,h2:7000,h3:7000", redis.Options{Addrs: []string{"h1:7000", "h2:7000", "h3:7000"}, Cluster: true}},
		{"redis://seed:7000?cluster=true", redis.Options{Addrs: []string{"seed:7000"}, Cluster: true}},
		{"redis://:pw@s1,s2:5000,s3?master_name=mymaster&sentinel_password=spw",
			redis.Options{Addrs: []string{"s1:26379", "s2:5000", "s3:26379"}, MasterName: "mymaster", Password: "pw", SentinelPassword: "spw"}},
		{"redis://host?dial_timeout=250ms&read_timeout=1s&write_timeout=2s&pool_size=32",
			redis.Options{Addrs: []string{"host:6379"}, DialTimeout: 250 * time.Millisecond, ReadTimeout: time.Second, WriteTimeout: 2 * time.Second, PoolSize: 32}},
		{"redis://host?allow_eviction=true", redis.Options{Addrs: []string{"host:6379"}, AllowEviction: true}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := redis.ParseOptions(tt.in)
			if err != nil {
				t.Fatalf("ParseOptions(%q): %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseOptions(%q)\n got %+v\nwant %+v", tt.in, got, tt.want)
			}
			// String renders a setting that parses back to the same options,
			// passwords aside.
			again, err := redis.ParseOptions(got.String())
			if err != nil {
				t.Fatalf("ParseOptions(String() = %q): %v", got.String(), err)
			}
			if got.Password != "" {
				again.Password = got.Password
			}
			if got.SentinelPassword != "" {
				again.SentinelPassword = got.SentinelPassword
			}
			if !reflect.DeepEqual(again, got) {
				t.Errorf("round trip through %q\n got %+v\nwant %+v", got.String(), again, got)
			}
		})
	}
}

func TestParseOptionsErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "empty address"},
		{"http://host", `URL scheme "http": want redis or rediss`},
		{"redis:host", `address "redis:host": port "host" is not a number`},
		{"redis://h%zz", `host "h%zz" is not a host name`},
		{"redis://host#frag", "URL fragment #frag"},
		{"redis://", "names no host"},
		{"redis://user:pw@", "names no host"},
		{"redis://host:0", `port "0" is not a number in 1-65535`},
		{"redis://host:99999", `port "99999"`},
		{"redis://host:port", `address "host:port": port "port"`},
		{"host:6379,,other", "has an empty entry"},
		{"redis://host/x", `URL path "/x": want /<database number>`},
		{"redis://host/-1", `URL path "/-1"`},
		{"redis://host?mastername=x", `URL query parameter "mastername" is unknown`},
		{"redis://host?cluster=yes!", `cluster: "yes!" is not a boolean`},
		{"redis://host?db=two", `db: "two" is not a non-negative integer`},
		{"redis://host?dial_timeout=5", `dial_timeout: "5" is not a positive duration`},
		{"redis://host?pool_size=1&pool_size=2", `"pool_size" is given 2 times`},
		{"redis://h1,h2?cluster=false", "cluster=false with 2 hosts"},
		{"redis://h1?cluster=true&master_name=m", "cluster and master_name exclude each other"},
		{"redis://h1/1?cluster=true", "database 1: Cluster has database 0 only"},
		{"redis://h1?prefix=a{b", `prefix "a{b" contains '{'`},
		{"redis://h1?tls_ca_file=/ca.pem", "TLS settings given without TLS: use the rediss:// scheme"},
		{"rediss://h1?tls_cert_file=/c.pem", "tls_cert_file and tls_key_file go together"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := redis.ParseOptions(tt.in)
			if err == nil {
				t.Fatalf("ParseOptions(%q) succeeded, want an error containing %q", tt.in, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseOptions(%q) error = %q, want it to contain %q", tt.in, err, tt.want)
			}
		})
	}
}

// TestParseOptionsHidesPassword checks that neither errors nor String ever
// show a password.
func TestParseOptionsHidesPassword(t *testing.T) {
	for _, in := range []string{
		"redis://user:hunter2@host:notaport",
		"redis://user:hunter2@host?bogus=1",
		"redis://user:hunter2@h%zz",
	} {
		_, err := redis.ParseOptions(in)
		if err == nil {
			t.Fatalf("ParseOptions(%q) succeeded, want an error", in)
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("ParseOptions(%q) error shows the password: %v", in, err)
		}
	}
	o, err := redis.ParseOptions("redis://user:hunter2@host?master_name=m&sentinel_password=hunter3")
	if err != nil {
		t.Fatal(err)
	}
	if s := o.String(); strings.Contains(s, "hunter") || !strings.Contains(s, "user:xxxxx@") {
		t.Errorf("String() = %q, want the passwords hidden", s)
	}
	if v := o.LogValue().String(); strings.Contains(v, "hunter") {
		t.Errorf("LogValue() = %q, want the passwords hidden", v)
	}
}
