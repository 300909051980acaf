package builtin

import "github.com/iamsentry/iamsentry/detectors"

// The evaluations the busiest detectors return, one per event they count,
// are carved from the batch's arena (detectors.Slab) rather than allocated
// one by one.
var (
	deniedBursts     = detectors.NewSlab[deniedBurst]()
	signIns          = detectors.NewSlab[signIn]()
	assumptions      = detectors.NewSlab[assumption]()
	uses             = detectors.NewSlab[use]()
	enumerations     = detectors.NewSlab[enumeration]()
	sightings        = detectors.NewSlab[sighting]()
	keyUses          = detectors.NewSlab[keyUse]()
	pairings         = detectors.NewSlab[pairing]()
	sessionCalls     = detectors.NewSlab[sessionCall]()
	learnedWorkloads = detectors.NewSlab[learnedWorkload]()
)
