package engine

import "sync"

// DropScratch empties the pool of batch scratch, so the next batch scores
// on scratch never used.
func DropScratch() { scratchPool = sync.Pool{} }
