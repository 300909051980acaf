package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/iamsentry/iamsentry/config"
	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	"github.com/iamsentry/iamsentry/detectors/geoip"
	"github.com/iamsentry/iamsentry/internal/geoipdata"
	redisstate "github.com/iamsentry/iamsentry/state/redis"
)

// loadedConfig is a configuration file made ready to run: checked and built
// by package config, with what the file only names opened or parsed here.
type loadedConfig struct {
	*config.Built
	// redis is redis.url parsed; nil when the file sets none.
	redis *redisstate.Options
	geo   *geoip.DB // nil when the file names no database
	// geoNote says which GeoIP databases are in use and where they came
	// from, for the start-up log.
	geoNote string
}

// Close releases the GeoIP databases. The detectors of l must not be used
// afterwards.
func (l *loadedConfig) Close() error {
	if l == nil || l.geo == nil {
		return nil
	}
	return l.geo.Close()
}

// loadConfig reads the configuration file at path, or takes the built-in
// defaults when path is "", and makes it ready to run. Every problem is
// reported together in the order of the file, those of the GeoIP databases
// and of redis.url with their key and line like the rest; errors name the
// file.
func loadConfig(path string) (*loadedConfig, error) {
	if path == "" {
		return assemble(&config.Config{})
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	cfg, err := config.Parse(data)
	var l *loadedConfig
	if cfg != nil {
		var aerr error
		l, aerr = assemble(cfg)
		err = config.Join(err, aerr)
	}
	if err != nil {
		l.Close()
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return l, nil
}

// assemble opens the GeoIP databases cfg names, parses its Redis URL, and
// builds the built-in detectors with them.
func assemble(cfg *config.Config) (*loadedConfig, error) {
	l := &loadedConfig{}
	var errs []error
	var geo detectors.GeoLookup // stays nil, not a nil *geoip.DB, without databases
	if db, note, err := openGeoIP(cfg); err != nil {
		errs = append(errs, err)
	} else {
		l.geoNote = note
		if db != nil {
			l.geo, geo = db, db
		}
	}
	if cfg.Redis.URL != "" {
		if opts, err := redisstate.ParseOptions(cfg.Redis.URL); err != nil {
			errs = append(errs, cfg.At("redis.url", err))
		} else {
			l.redis = &opts
		}
	}
	b, err := cfg.Build(builtin.Specs(), geo)
	if err := config.Join(append(errs, err)...); err != nil {
		l.Close()
		return nil, err
	}
	l.Built = b
	return l, nil
}

// openGeoIP opens the databases of the geoip key or, when it names none,
// those `iamsentry geoip update` left at the default path
// (geoipdata.DefaultDir); it returns nil when there are none. The note says
// which databases are in use. An error names the key of the database that
// failed, or the default path.
func openGeoIP(cfg *config.Config) (*geoip.DB, string, error) {
	g := cfg.GeoIP
	key := func(role string) string { return "geoip." + role }
	from := "the configuration"
	if g.CountryDB == "" && g.ASNDB == "" {
		dir := geoipdata.DefaultDir()
		g.CountryDB, g.ASNDB = geoipdata.Find(dir)
		if g.CountryDB == "" && g.ASNDB == "" {
			if dir == "" {
				return nil, "GeoIP: none ($" + geoipdata.EnvDir + "=off); detectors use network prefixes", nil
			}
			return nil, fmt.Sprintf("GeoIP: no databases configured or in %s; detectors use network prefixes "+
				"(`make geoip` or `iamsentry geoip update` fetches free ones)", dir), nil
		}
		key = func(role string) string { return "default GeoIP database in " + dir }
		from = "the default path " + dir + " (licence and source: " + filepath.Join(dir, geoipdata.NoticeFile) + ")"
	}
	db, err := geoip.Open(g.CountryDB, g.ASNDB)
	oe, ok := errors.AsType[*geoip.OpenError](err)
	switch {
	case ok && oe.Err != nil:
		// The key names the role; say the path and what is wrong.
		return nil, "", cfg.At(key(oe.Role), fmt.Errorf("%q: %s: %w", oe.Path, oe.Reason, oe.Err))
	case ok:
		return nil, "", cfg.At(key(oe.Role), fmt.Errorf("%q: %s", oe.Path, oe.Reason))
	case err != nil:
		return nil, "", cfg.At("geoip", err)
	}
	var used []string
	for _, role := range []string{geoip.CountryRole, geoip.ASNRole} {
		if t, ok := db.Types()[role]; ok {
			path := g.CountryDB
			if role == geoip.ASNRole {
				path = g.ASNDB
			}
			used = append(used, fmt.Sprintf("%s %s (%s)", role, path, t))
		}
	}
	return db, "GeoIP: " + strings.Join(used, ", ") + " from " + from, nil
}
