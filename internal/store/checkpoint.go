package store

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/tapportal/portal/internal/portal"
)

// CheckpointMessage is the message of the log line that carries a
// checkpoint, under the attribute "checkpoint".
const CheckpointMessage = "audit checkpoint"

// maxStatus bounds the problem a checkpoint's status repeats.
const maxStatus = 1000

// WriteCheckpoint verifies the chain and writes a checkpoint of its head
// with the result, signed with the current audit key, numbered after the
// newest checkpoint. interval is when the next one is due; the caller
// logs the checkpoint (LogCheckpoint) so that a copy leaves the database.
func (s *Store) WriteCheckpoint(ctx context.Context, interval time.Duration) (portal.Checkpoint, error) {
	if interval <= 0 {
		return portal.Checkpoint{}, portal.Errorf(portal.EInvalid, "A checkpoint needs the interval to the next one.")
	}
	v, err := s.verify(ctx, nil, true)
	if err != nil {
		return portal.Checkpoint{}, err
	}
	key := &s.keys[0]
	c := portal.Checkpoint{
		Time: time.Now().UTC().Truncate(time.Microsecond), HeadID: v.HeadID, HeadHash: v.HeadHash, Count: v.Checked,
		Interval: interval.Truncate(time.Microsecond), Status: portal.ChainIntact, KeyID: key.id,
	}
	// Under the chain lock, so that checkpoints written at once by two
	// replicas (each stopping, say) are numbered one after the other.
	err = s.chainTx(ctx, func(tx *sql.Tx, _ *head) error {
		if !v.Intact() {
			// The walk stopped at the break or the head is in doubt: the
			// checkpoint names the head as it stands, and says why the
			// chain up to it does not verify.
			c.Status = v.Problem
			if c.Status == "" {
				c.Status = v.Findings[0]
			}
			c.Status = portal.Clip(c.Status, maxStatus)
			c.HeadID, c.HeadHash = 0, genesis
			err := tx.QueryRowContext(ctx, "SELECT id, hash FROM events ORDER BY id DESC LIMIT 1").Scan(&c.HeadID, &c.HeadHash)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM events").Scan(&c.Count); err != nil {
				return err
			}
		}
		if c.HeadID == 0 {
			c.HeadHash = genesis
		}
		if err := tx.QueryRowContext(ctx, "SELECT COALESCE(MAX(seq), 0) + 1 FROM checkpoints").Scan(&c.Seq); err != nil {
			return err
		}
		c.MAC = key.checkpointMAC(&c)
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO checkpoints (seq, time_us, head_id, head_hash, count, interval_us, status, key_id, mac)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			c.Seq, micros(c.Time), c.HeadID, c.HeadHash, c.Count, c.Interval.Microseconds(), c.Status, c.KeyID, c.MAC)
		return err
	})
	if err != nil {
		return portal.Checkpoint{}, unavailable(err)
	}
	return c, nil
}

// LogCheckpoint writes c to logger as the one JSON line ReadCheckpoints
// reads back: at info level, or at error level when the chain did not
// verify.
func LogCheckpoint(ctx context.Context, logger *slog.Logger, c portal.Checkpoint) {
	level := slog.LevelInfo
	if c.Status != portal.ChainIntact {
		level = slog.LevelError
	}
	logger.Log(ctx, level, CheckpointMessage, slog.Any("checkpoint", c))
}

// LoggedCheckpoint is a checkpoint read from a log, with its line.
type LoggedCheckpoint struct {
	portal.Checkpoint
	Line int
}

// ReadCheckpoints reads the checkpoints from a portal log of JSON lines,
// in the log's order, skipping every other line. A line that has the
// checkpoint message but no readable checkpoint is returned in
// unreadable, described with its line number: someone may have edited it.
func ReadCheckpoints(r io.Reader) (checkpoints []LoggedCheckpoint, unreadable []string, err error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	marker := []byte(`"msg":"` + CheckpointMessage + `"`)
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		if !bytes.Contains(line, marker) {
			continue
		}
		var entry struct {
			Msg        string             `json:"msg"`
			Checkpoint *portal.Checkpoint `json:"checkpoint"`
		}
		err := json.Unmarshal(line, &entry)
		switch {
		case err != nil:
			unreadable = append(unreadable, fmt.Sprintf("Line %d of the log carries a checkpoint that cannot be read (%v): the line was changed or cut.", n, err))
		case entry.Msg != CheckpointMessage:
		case entry.Checkpoint == nil || entry.Checkpoint.Seq == 0:
			unreadable = append(unreadable, fmt.Sprintf("Line %d of the log is a checkpoint line without a checkpoint: the line was changed.", n))
		default:
			checkpoints = append(checkpoints, LoggedCheckpoint{Checkpoint: *entry.Checkpoint, Line: n})
		}
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("reading the log: %w", err)
	}
	return checkpoints, unreadable, nil
}

// ChainStatus returns the chain as of the newest checkpoint: whether it
// verified then, whether the checkpoint itself verifies, and whether the
// record it names as the head still stands. It reads two rows, so the
// supervisor's pages can show it on every load.
func (s *Store) ChainStatus(ctx context.Context) (portal.ChainStatus, error) {
	var st portal.ChainStatus
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		cs, err := s.queryCheckpoints(ctx, tx, " ORDER BY seq DESC LIMIT 1")
		if err != nil || len(cs) == 0 {
			return err
		}
		st.Checkpoint = cs[0]
		st.Problem, err = s.checkpointStands(ctx, tx, &st.Checkpoint)
		return err
	})
	if err != nil {
		return portal.ChainStatus{}, unavailable(err)
	}
	return st, nil
}

// checkpointStands says what is wrong with c as the chain stands now, or
// returns "" when c verifies, found the chain intact and its head stands.
func (s *Store) checkpointStands(ctx context.Context, tx *sql.Tx, c *portal.Checkpoint) (string, error) {
	if problem := s.checkMAC(c); problem != "" {
		return "The newest checkpoint " + problem, nil
	}
	if c.Status != portal.ChainIntact {
		return c.Status, nil
	}
	var newest, oldest int64
	if err := tx.QueryRowContext(ctx, "SELECT COALESCE(MAX(id), 0), COALESCE(MIN(id), 0) FROM events").Scan(&newest, &oldest); err != nil {
		return "", err
	}
	if c.HeadID > newest {
		return fmt.Sprintf("Checkpoint %d names record %d as the newest, but the newest record is %d: records were deleted since.", c.Seq, c.HeadID, newest), nil
	}
	if c.HeadID != 0 && c.HeadID >= oldest {
		var hash string
		err := tx.QueryRowContext(ctx, s.q("SELECT hash FROM events WHERE id = ?"), c.HeadID).Scan(&hash)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Sprintf("Record %d, which checkpoint %d vouched for, is missing.", c.HeadID, c.Seq), nil
		}
		if err != nil {
			return "", err
		}
		if hash != c.HeadHash {
			return fmt.Sprintf("Record %d has changed since checkpoint %d vouched for it: the history was rewritten.", c.HeadID, c.Seq), nil
		}
	}
	if due := c.Time.Add(3 * c.Interval); time.Now().After(due) {
		return fmt.Sprintf("No checkpoint since %s, though one is due every %s: the portal has stopped writing them.", stamp3339(c), c.Interval), nil
	}
	return "", nil
}

// storedCheckpoints returns every checkpoint in the database, by number.
func (s *Store) storedCheckpoints(ctx context.Context, tx *sql.Tx) ([]portal.Checkpoint, error) {
	return s.queryCheckpoints(ctx, tx, " ORDER BY seq")
}

func (s *Store) queryCheckpoints(ctx context.Context, tx *sql.Tx, order string) ([]portal.Checkpoint, error) {
	rows, err := tx.QueryContext(ctx, "SELECT seq, time_us, head_id, head_hash, count, interval_us, status, key_id, mac FROM checkpoints"+order)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var cs []portal.Checkpoint
	for rows.Next() {
		var c portal.Checkpoint
		var timeUS, intervalUS int64
		if err := rows.Scan(&c.Seq, &timeUS, &c.HeadID, &c.HeadHash, &c.Count, &intervalUS, &c.Status, &c.KeyID, &c.MAC); err != nil {
			return nil, err
		}
		c.Time, c.Interval = fromMicros(timeUS), time.Duration(intervalUS)*time.Microsecond
		cs = append(cs, c)
	}
	return cs, rows.Err()
}

// checkMAC says how c fails to verify, as the end of a sentence about
// it, or returns "".
func (s *Store) checkMAC(c *portal.Checkpoint) string {
	key := s.key(c.KeyID)
	if key == nil {
		return fmt.Sprintf("is signed with audit key %q, which is not configured: it was forged, or PORTAL_AUDIT_KEY has lost a retired key.", c.KeyID)
	}
	if !hmac.Equal([]byte(key.checkpointMAC(c)), []byte(c.MAC)) {
		return "does not verify: it was written or changed by someone without the audit key."
	}
	return ""
}

// key returns the configured key with this id, or nil.
func (s *Store) key(id string) *auditKey {
	for i := range s.keys {
		if s.keys[i].id == id {
			return &s.keys[i]
		}
	}
	return nil
}

func stamp3339(c *portal.Checkpoint) string { return c.Time.UTC().Format(time.RFC3339) }
