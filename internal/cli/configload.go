package cli

import (
	"errors"
	"fmt"
	"os"

	"github.com/iamsentry/iamsentry/config"
	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	"github.com/iamsentry/iamsentry/detectors/geoip"
	redisstate "github.com/iamsentry/iamsentry/state/redis"
)

// loadedConfig is a configuration file made ready to run: checked and built
// by package config, with what the file only names opened or parsed here.
type loadedConfig struct {
	*config.Built
	// redis is redis.url parsed; nil when the file sets none.
	redis *redisstate.Options
	geo   *geoip.DB // nil when the file names no database
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
	if db, err := openGeoIP(cfg); err != nil {
		errs = append(errs, err)
	} else if db != nil {
		l.geo, geo = db, db
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

// openGeoIP opens the databases of the geoip key, or returns nil when it
// names none. An error names the key of the database that failed.
func openGeoIP(cfg *config.Config) (*geoip.DB, error) {
	g := cfg.GeoIP
	if g.CountryDB == "" && g.ASNDB == "" {
		return nil, nil
	}
	db, err := geoip.Open(g.CountryDB, g.ASNDB)
	oe, ok := errors.AsType[*geoip.OpenError](err)
	switch {
	case ok && oe.Err != nil:
		// The key names the role; say the path and what is wrong.
		return nil, cfg.At("geoip."+oe.Role, fmt.Errorf("%q: %s: %w", oe.Path, oe.Reason, oe.Err))
	case ok:
		return nil, cfg.At("geoip."+oe.Role, fmt.Errorf("%q: %s", oe.Path, oe.Reason))
	case err != nil:
		return nil, cfg.At("geoip", err)
	}
	return db, nil
}
