package redis

// CASScript returns the SHA1 and source of the record layout's write
// script, for tests that call it directly.
func CASScript() (sha, src string) { return casScript.sha, casScript.src }
