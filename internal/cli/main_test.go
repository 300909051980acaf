package cli

import (
	"os"
	"testing"

	"github.com/iamsentry/iamsentry/internal/geoipdata"
)

// TestMain keeps the commands under test from picking up GeoIP databases
// fetched to the default path on the machine: findings would differ. Tests
// of the default path set the variable themselves.
func TestMain(m *testing.M) {
	os.Setenv(geoipdata.EnvDir, "off")
	os.Exit(m.Run())
}
