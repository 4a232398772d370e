package store

import (
	"crypto/hmac"
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
// fields or layout cannot produce the same bytes as another. Versions 1
// and 2 are unkeyed SHA-256 and only verify records written before the
// chain was keyed (version 2 added the privilege after the anchor).
// Version 3 is keyed: an HMAC under the audit key, so that nobody without
// the key can write a record that verifies, or re-hash a changed one.
// Version 4 is version 3 with the delivery channel, for a record that has
// one: records written before channels verify as they were written.
const (
	encodingVersion1 = 1
	encodingVersion2 = 2
	encodingVersion3 = 3
	encodingVersion4 = 4
)

// MinAuditKeyLength is the shortest audit key accepted.
const MinAuditKeyLength = 32

// auditKey is one secret the chain and the checkpoints are keyed with.
// Its id names it in the records it keyed without revealing it.
type auditKey struct {
	id     string
	secret []byte
}

// auditKeys turns the configured secrets, newest first, into keys.
func auditKeys(secrets []string) ([]auditKey, error) {
	if len(secrets) == 0 {
		return nil, portal.Errorf(portal.EInvalid, "The history needs an audit key (PORTAL_AUDIT_KEY): without one, anyone who can write to the database can rewrite the history undetected.")
	}
	keys := make([]auditKey, 0, len(secrets))
	seen := map[string]bool{}
	for i, s := range secrets {
		if len(s) < MinAuditKeyLength {
			return nil, portal.Errorf(portal.EInvalid, "Audit key %d is %d characters: each must have at least %d.", i+1, len(s), MinAuditKeyLength)
		}
		k := auditKey{id: keyID(s), secret: []byte(s)}
		if seen[k.id] {
			return nil, portal.Errorf(portal.EInvalid, "Audit key %d repeats an earlier one.", i+1)
		}
		seen[k.id] = true
		keys = append(keys, k)
	}
	return keys, nil
}

// keyID is the first 16 hex characters of the SHA-256 of a fixed label
// and the secret: enough to tell keys apart, useless for finding one.
func keyID(secret string) string {
	sum := sha256.Sum256([]byte("TAP Portal audit key id\x00" + secret))
	return hex.EncodeToString(sum[:8])
}

// record is an event as the chain sees it: the event plus the chain
// columns that portal.Event does not carry.
type record struct {
	portal.Event
	// PrevHash is the hash of the record before this one, or genesis.
	PrevHash string
	// Anchor is set on retention records only: the hash that the oldest
	// record remaining after the deletion links to.
	Anchor string
	// KeyID names the audit key of the record's hash; empty for a record
	// written before the chain was keyed.
	KeyID string
}

// chainHash returns the record's hash under key, or, when key is nil, as
// an unkeyed record of versions 1 and 2 was hashed. It is the hex-encoded
// HMAC-SHA256 under the audit key (SHA-256 for versions 1 and 2) of
//
//	prev_hash (its 64 hex characters, as ASCII)
//	|| one byte: the encoding version, 3, or 4 when channel is set (1 or
//	   2 when unkeyed: 2 when privilege is set)
//	|| the stored fields in this fixed order:
//	   id, time_us, action, outcome, operator_id, operator_name,
//	   target_id, target_upn, target_name, tap_id, lifetime_minutes,
//	   one_time, start_us, reason, ticket, detail, refusal_code,
//	   graph_request_id, request_id, intent_id, reconciled, anchor,
//	   then privilege (versions 2, 3 and 4), channel (version 4) and key_id
//	   (versions 3 and 4)
//
// where an integer is 8 bytes, big-endian two's complement; a boolean is
// one byte, 0 or 1; a string is its length in bytes as an 8-byte
// big-endian integer followed by its bytes. Times are the stored unix
// microseconds (0 for a zero time). Every field has a fixed width or a
// length prefix, so two different records never encode to the same bytes,
// whatever their strings contain.
func (r *record) chainHash(key *auditKey) string {
	b := make([]byte, 0, 512)
	b = append(b, r.PrevHash...)
	version := byte(encodingVersion1)
	switch {
	case key != nil && r.Channel != "":
		version = encodingVersion4
	case key != nil:
		version = encodingVersion3
	case r.Privilege != "":
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
	if version != encodingVersion1 {
		b = appendString(b, r.Privilege)
	}
	if version == encodingVersion4 {
		b = appendString(b, string(r.Channel))
	}
	if key == nil {
		sum := sha256.Sum256(b)
		return hex.EncodeToString(sum[:])
	}
	b = appendString(b, r.KeyID)
	return key.mac(b)
}

// mac returns the hex-encoded HMAC-SHA256 of b under k.
func (k *auditKey) mac(b []byte) string {
	m := hmac.New(sha256.New, k.secret)
	m.Write(b)
	return hex.EncodeToString(m.Sum(nil))
}

// checkpointMAC returns the MAC of every field of c but the MAC itself,
// encoded as the chain's fields are after a fixed label.
func (k *auditKey) checkpointMAC(c *portal.Checkpoint) string {
	b := make([]byte, 0, 256)
	b = append(b, "TAP Portal checkpoint\x00"...)
	b = append(b, 1) // encoding version
	b = appendInt(b, c.Seq)
	b = appendInt(b, micros(c.Time))
	b = appendInt(b, c.HeadID)
	b = appendString(b, c.HeadHash)
	b = appendInt(b, c.Count)
	b = appendInt(b, c.Interval.Microseconds())
	b = appendString(b, c.Status)
	b = appendString(b, c.KeyID)
	return k.mac(b)
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
