package graphemu

import (
	"crypto/rand"
	"fmt"
	"time"
)

// Helpers that write values the way Graph does.

// graphTime renders a time as Graph does (UTC, at most seven fractional
// digits), or null when it is unset.
func graphTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format("2006-01-02T15:04:05.9999999Z")
}

// ticks truncates a time to Graph's precision (100 ns), so that what the
// emulator stores is exactly what a client reads back.
func ticks(t time.Time) time.Time { return t.Truncate(100 * time.Nanosecond) }

// nullable renders an empty string as null, as Graph does for unset
// properties.
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// newGUID returns a random version 4 GUID.
func newGUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
