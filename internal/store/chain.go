package store

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strings"
	"time"

	"github.com/tapportal/portal/internal/portal"
)

// genesis is the prev_hash of the first record ever written.
var genesis = strings.Repeat("0", 64)

// The encoding version leads the encoded fields, so that a change of
// fields or layout cannot produce the same bytes as another. Version 2
// adds the privilege field after the anchor; a record without one keeps
// version 1, so records written before it verify as they were written.
const (
	encodingVersion1 = 1
	encodingVersion2 = 2
)

// record is an event as the chain sees it: the event plus the two chain
// columns that portal.Event does not carry.
type record struct {
	portal.Event
	// PrevHash is the hash of the record before this one, or genesis.
	PrevHash string
	// Anchor is set on retention records only: the hash that the oldest
	// record remaining after the deletion links to.
	Anchor string
}

// chainHash returns the record's hash: the hex-encoded SHA-256 of
//
//	prev_hash (its 64 hex characters, as ASCII)
//	|| one byte: the encoding version, 1, or 2 when privilege is set
//	|| the stored fields in this fixed order:
//	   id, time_us, action, outcome, operator_id, operator_name,
//	   target_id, target_upn, target_name, tap_id, lifetime_minutes,
//	   one_time, start_us, reason, ticket, detail, refusal_code,
//	   graph_request_id, request_id, intent_id, reconciled, anchor
//	   and, in version 2, privilege
//
// where an integer is 8 bytes, big-endian two's complement; a boolean is
// one byte, 0 or 1; a string is its length in bytes as an 8-byte
// big-endian integer followed by its bytes. Times are the stored unix
// microseconds (0 for a zero time). Every field has a fixed width or a
// length prefix, so two different records never encode to the same bytes,
// whatever their strings contain.
func (r *record) chainHash() string {
	b := make([]byte, 0, 512)
	b = append(b, r.PrevHash...)
	version := byte(encodingVersion1)
	if r.Privilege != "" {
		version = encodingVersion2
	}
	b = append(b, version)
	b = appendInt(b, r.ID)
	b = appendInt(b, micros(r.Time))
	b = appendString(b, string(r.Action))
	b = appendString(b, string(r.Outcome))
	b = appendString(b, r.OperatorID)
	b = appendString(b, r.OperatorName)
	b = appendString(b, r.TargetID)
	b = appendString(b, r.TargetUPN)
	b = appendString(b, r.TargetName)
	b = appendString(b, r.TAPID)
	b = appendInt(b, int64(r.LifetimeMinutes))
	b = appendBool(b, r.OneTime)
	b = appendInt(b, micros(r.Start))
	b = appendString(b, r.Reason)
	b = appendString(b, r.Ticket)
	b = appendString(b, r.Detail)
	b = appendString(b, r.RefusalCode)
	b = appendString(b, r.GraphRequestID)
	b = appendString(b, r.RequestID)
	b = appendInt(b, r.IntentID)
	b = appendBool(b, r.Reconciled)
	b = appendString(b, r.Anchor)
	if version == encodingVersion2 {
		b = appendString(b, r.Privilege)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func appendInt(b []byte, v int64) []byte {
	return binary.BigEndian.AppendUint64(b, uint64(v))
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

func appendString(b []byte, s string) []byte {
	return append(appendInt(b, int64(len(s))), s...)
}

// micros is how a time is stored: unix microseconds, 0 for the zero time.
func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// fromMicros reverses micros.
func fromMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}
