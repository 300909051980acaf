package auth

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"
)

// Keypair serves a certificate and key from PEM files and reloads them when
// either file's modification time or size changes, so a rotated
// certificate (cert-manager, a renewed Secret) is used for new connections
// without a restart. A pair that fails to load is logged and the previous
// one stays in use.
type Keypair struct {
	certFile, keyFile string
	log               *slog.Logger

	mu      sync.Mutex
	cert    *tls.Certificate
	certMod stamp
	keyMod  stamp
}

// stamp identifies one version of a file: its modification time, size and
// inode. The inode catches a rotation by rename (a Kubernetes Secret
// update, a write-then-rename) that keeps the size within one tick of a
// coarse file-system clock.
type stamp struct {
	mod   time.Time
	size  int64
	inode uint64
}

func stampOf(path string) (stamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return stamp{}, err
	}
	return stamp{mod: fi.ModTime(), size: fi.Size(), inode: inode(fi)}, nil
}

// NewKeypair loads the pair once; it fails when the files are unusable.
func NewKeypair(certFile, keyFile string, log *slog.Logger) (*Keypair, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	k := &Keypair{certFile: certFile, keyFile: keyFile, log: log}
	if err := k.reload(); err != nil {
		return nil, err
	}
	return k, nil
}

func (k *Keypair) reload() error {
	cs, err := stampOf(k.certFile)
	if err != nil {
		return fmt.Errorf("TLS certificate: %w", err)
	}
	ks, err := stampOf(k.keyFile)
	if err != nil {
		return fmt.Errorf("TLS key: %w", err)
	}
	if k.cert != nil && cs == k.certMod && ks == k.keyMod {
		return nil
	}
	cert, err := tls.LoadX509KeyPair(k.certFile, k.keyFile)
	if err != nil {
		return fmt.Errorf("TLS keypair %s, %s: %w", k.certFile, k.keyFile, err)
	}
	if k.cert != nil {
		k.log.Info("TLS certificate reloaded", slog.String("cert", k.certFile), slog.Time("not_after", cert.Leaf.NotAfter))
	}
	k.cert, k.certMod, k.keyMod = &cert, cs, ks
	return nil
}

// GetCertificate implements tls.Config.GetCertificate: one stat of each
// file per handshake, a reload when they changed.
func (k *Keypair) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.reload(); err != nil {
		// Mid-rotation the two files may not match yet: keep serving the
		// pair that worked.
		k.log.Warn("TLS keypair not reloaded; the previous one stays in use", slog.Any("error", err))
	}
	return k.cert, nil
}

// ServerFiles names the server's TLS files.
type ServerFiles struct {
	CertFile, KeyFile string // the server's certificate and key (PEM); required
	// ClientCAFile is a PEM bundle of the CAs that sign client
	// certificates; set, clients authenticate by certificate (mutual TLS).
	ClientCAFile string
}

// ServerConfig returns the TLS configuration of the gRPC port. With a
// client CA, every presented client certificate must verify against it;
// requireCert makes the handshake itself demand one, which the server does
// unless some methods (health, reflection) stay open to callers without a
// certificate — those then are refused per call by Authenticator.
func ServerConfig(f ServerFiles, requireCert bool, log *slog.Logger) (*tls.Config, error) {
	if f.CertFile == "" || f.KeyFile == "" {
		return nil, errors.New("TLS needs both a certificate and a key file")
	}
	kp, err := NewKeypair(f.CertFile, f.KeyFile, log)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: kp.GetCertificate}
	if f.ClientCAFile == "" {
		return cfg, nil
	}
	cas, err := NewCertPoolFile(f.ClientCAFile, log)
	if err != nil {
		return nil, err
	}
	cfg.ClientAuth = tls.VerifyClientCertIfGiven
	if requireCert {
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	// Each handshake gets the configuration with the client CAs as they are
	// now, so a rotated CA bundle is used without a restart.
	cfg.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
		c := cfg.Clone()
		c.GetConfigForClient = nil
		c.ClientCAs = cas.Pool()
		return c, nil
	}
	cfg.ClientCAs = cas.Pool()
	return cfg, nil
}

// CertPoolFile serves a PEM bundle of CA certificates and reloads it when
// the file's modification time or size changes. A bundle that fails to load
// is logged and the previous one stays in use.
type CertPoolFile struct {
	file string
	log  *slog.Logger

	mu   sync.Mutex
	pool *x509.CertPool
	mod  stamp
}

// NewCertPoolFile loads the bundle once; it fails when the file is unusable.
func NewCertPoolFile(file string, log *slog.Logger) (*CertPoolFile, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &CertPoolFile{file: file, log: log}
	if err := c.reload(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *CertPoolFile) reload() error {
	st, err := stampOf(c.file)
	if err != nil {
		return fmt.Errorf("TLS client CA: %w", err)
	}
	if c.pool != nil && st == c.mod {
		return nil
	}
	pem, err := os.ReadFile(c.file)
	if err != nil {
		return fmt.Errorf("TLS client CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return fmt.Errorf("TLS client CA %s: no PEM certificate in it", c.file)
	}
	if c.pool != nil {
		c.log.Info("TLS client CA reloaded", slog.String("file", c.file))
	}
	c.pool, c.mod = pool, st
	return nil
}

// Pool returns the bundle, reloaded first when the file changed.
func (c *CertPoolFile) Pool() *x509.CertPool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.reload(); err != nil {
		c.log.Warn("TLS client CA not reloaded; the previous one stays in use", slog.Any("error", err))
	}
	return c.pool
}

// CertTenant returns the tenant a verified client certificate names: the
// <name> of the first URI SAN whose path ends in /tenant/<name>, else the
// Subject CN.
func CertTenant(cert *x509.Certificate) (string, error) {
	name := ""
	for _, u := range cert.URIs {
		segs := strings.Split(strings.Trim(u.Path, "/"), "/")
		if n := len(segs); n >= 2 && segs[n-2] == "tenant" {
			name = segs[n-1]
			break
		}
	}
	if name == "" {
		name = cert.Subject.CommonName
	}
	if name == "" {
		return "", errors.New("client certificate names no tenant (no URI SAN …/tenant/<name>, no Subject CN)")
	}
	if err := CheckTenant(name); err != nil {
		return "", fmt.Errorf("client certificate: %w", err)
	}
	return name, nil
}
