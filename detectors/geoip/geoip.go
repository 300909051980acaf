// Package geoip resolves source IPs to a country and an autonomous system
// from MaxMind-format databases (GeoLite2/GeoIP2 Country, City, ASN, ISP, and
// compatible files such as DB-IP's lite editions). It exists so the reader
// and its file handling stay out of package detectors: detectors see only the
// detectors.GeoLookup interface, which *DB implements.
package geoip

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"strings"

	"github.com/iamsentry/iamsentry/detectors"
	maxminddb "github.com/oschwald/maxminddb-golang/v2"
)

// Location is what a lookup found: the ISO country code and the autonomous
// system. It is detectors.GeoLocation, so *DB satisfies detectors.GeoLookup
// without an adapter.
type Location = detectors.GeoLocation

// DB answers lookups from up to two databases: one for countries (a Country
// or City database) and one for networks (an ASN or ISP database).
//
// A DB is safe for concurrent lookups. Close it only when no lookup can
// still run; a reload opens a new DB and closes the old one after the
// detectors using it are gone.
type DB struct {
	country *maxminddb.Reader
	asn     *maxminddb.Reader

	countries decodeCache[countryRecord]
	networks  decodeCache[asnRecord]
}

var _ detectors.GeoLookup = (*DB)(nil)

// Database roles, as named in the configuration (geoip.country_db,
// geoip.asn_db) and in errors.
const (
	CountryRole = "country_db"
	ASNRole     = "asn_db"
)

// Open opens the country and ASN databases at the given paths; either may be
// empty, not both. Errors name the configuration key and the path and say
// which of these went wrong: the file is missing or unreadable, it is not a
// MaxMind DB, or it is a database of the wrong type (an ASN database given
// as country_db, a City database given as asn_db).
func Open(countryDB, asnDB string) (*DB, error) {
	if countryDB == "" && asnDB == "" {
		return nil, errors.New("geoip: neither country_db nor asn_db is set")
	}
	db := &DB{}
	var err error
	if countryDB != "" {
		if db.country, err = open(CountryRole, countryDB, isCountryType); err != nil {
			return nil, err
		}
	}
	if asnDB != "" {
		if db.asn, err = open(ASNRole, asnDB, isASNType); err != nil {
			db.Close()
			return nil, err
		}
	}
	return db, nil
}

// OpenError is a database that could not be used.
type OpenError struct {
	Role   string // CountryRole or ASNRole
	Path   string
	Reason string // what is wrong, for a person
	Err    error  // the underlying error, if any
}

func (e *OpenError) Error() string {
	msg := fmt.Sprintf("geoip: %s %q: %s", e.Role, e.Path, e.Reason)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *OpenError) Unwrap() error { return e.Err }

func open(role, path string, wantType func(string) bool) (*maxminddb.Reader, error) {
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, &OpenError{Role: role, Path: path, Reason: "file does not exist", Err: err}
	case err != nil:
		return nil, &OpenError{Role: role, Path: path, Reason: "cannot read the file", Err: err}
	case st.IsDir():
		return nil, &OpenError{Role: role, Path: path, Reason: "is a directory, not a MaxMind DB (.mmdb) file"}
	case st.Size() == 0:
		return nil, &OpenError{Role: role, Path: path, Reason: "file is empty, not a MaxMind DB (.mmdb) file"}
	}
	r, err := maxminddb.Open(path)
	if err != nil {
		_, invalid := errors.AsType[maxminddb.InvalidDatabaseError](err)
		_, badType := errors.AsType[maxminddb.UnmarshalTypeError](err)
		if invalid || badType {
			return nil, &OpenError{Role: role, Path: path, Reason: "not a MaxMind DB (.mmdb) file", Err: err}
		}
		return nil, &OpenError{Role: role, Path: path, Reason: "cannot open the database", Err: err}
	}
	if t := r.Metadata.DatabaseType; !wantType(t) {
		r.Close()
		return nil, &OpenError{Role: role, Path: path,
			Reason: fmt.Sprintf("database type %q is not %s", t, wantedKind[role])}
	}
	return r, nil
}

var wantedKind = map[string]string{
	CountryRole: "a Country, City or Enterprise database",
	ASNRole:     "an ASN or ISP database",
}

// isCountryType accepts the database types whose records carry
// country.iso_code: GeoLite2-Country, GeoIP2-City, GeoIP2-Enterprise and
// the compatible DB-IP editions ("DBIP-Country-Lite", "DBIP-City-Lite"),
// or country_code: ip-location-db's ("country ipvAll").
func isCountryType(t string) bool {
	t = strings.ToLower(t)
	return strings.Contains(t, "country") || strings.Contains(t, "city") || strings.Contains(t, "enterprise")
}

// isASNType accepts the types whose records carry autonomous_system_number
// at the top level: GeoLite2-ASN, GeoIP2-ISP, DBIP-ASN-Lite.
func isASNType(t string) bool {
	t = strings.ToLower(t)
	return strings.Contains(t, "asn") || strings.Contains(t, "isp")
}

type countryRecord struct {
	Country           isoCode `maxminddb:"country"`
	RegisteredCountry isoCode `maxminddb:"registered_country"`
	// CountryCode is the flat field of ip-location-db's country
	// databases (`iamsentry geoip update` fetches one).
	CountryCode string `maxminddb:"country_code"`
}

type isoCode struct {
	ISOCode string `maxminddb:"iso_code"`
}

type asnRecord struct {
	Number uint32 `maxminddb:"autonomous_system_number"`
	Org    string `maxminddb:"autonomous_system_organization"`
}

// Lookup returns what the databases know about addr: the country where the
// address is located, or, when the database does not place it (anycast and
// satellite ranges), the country it is registered to; and its autonomous
// system. It reports false when neither database knows addr. An IPv4-mapped
// IPv6 address is looked up as IPv4.
func (db *DB) Lookup(addr netip.Addr) (Location, bool) {
	addr = addr.Unmap().WithZone("")
	var loc Location
	if db.country != nil {
		if rec, err := db.countries.decode(db.country.Lookup(addr)); err == nil {
			loc.Country = rec.Country.ISOCode
			if loc.Country == "" {
				loc.Country = rec.RegisteredCountry.ISOCode
			}
			if loc.Country == "" {
				loc.Country = rec.CountryCode
			}
		}
	}
	if db.asn != nil {
		if rec, err := db.networks.decode(db.asn.Lookup(addr)); err == nil {
			loc.ASN, loc.ASNOrg = rec.Number, rec.Org
		}
	}
	return loc, loc.Country != "" || loc.ASN != 0
}

// Types returns the database types opened, by role, for start-up logs.
func (db *DB) Types() map[string]string {
	out := map[string]string{}
	if db.country != nil {
		out[CountryRole] = db.country.Metadata.DatabaseType
	}
	if db.asn != nil {
		out[ASNRole] = db.asn.Metadata.DatabaseType
	}
	return out
}

// Close releases the databases.
func (db *DB) Close() error {
	var errs []error
	if db.country != nil {
		errs = append(errs, db.country.Close())
	}
	if db.asn != nil {
		errs = append(errs, db.asn.Close())
	}
	return errors.Join(errs...)
}
