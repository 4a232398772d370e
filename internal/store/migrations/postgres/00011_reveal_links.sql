-- +goose Up
-- One-time reveal links: a passcode encrypted with a key that only the
-- link's fragment holds, so this table keeps ciphertext no one here can
-- read, and only until the link is revealed or expires: revealing and
-- purging set the ciphertext and nonce to NULL. The rest of the row stays
-- as the record of the link. event_id is 0 until the issue's history
-- record is known. key_check is derived from the key (internal/reveal says
-- how): a reveal must carry it, so that a link opened with its key damaged
-- or missing is refused and left ready. It tells nothing of the key, so it
-- stays with the row.
CREATE TABLE reveal_links (
    id          TEXT PRIMARY KEY,
    event_id    BIGINT NOT NULL DEFAULT 0,
    target_id   TEXT NOT NULL,
    operator_id TEXT NOT NULL,
    ciphertext  BYTEA,
    nonce       BYTEA,
    key_check   TEXT NOT NULL CHECK (key_check <> ''),
    created_us  BIGINT NOT NULL,
    expires_us  BIGINT NOT NULL,
    revealed_us BIGINT,
    CHECK ((ciphertext IS NULL) = (nonce IS NULL)),
    -- A revealed link keeps nothing of its passcode.
    CHECK (revealed_us IS NULL OR ciphertext IS NULL)
);
-- The purge looks for expired links that still hold a ciphertext.
CREATE INDEX reveal_links_sealed ON reveal_links (expires_us) WHERE ciphertext IS NOT NULL;

-- +goose Down
DROP TABLE reveal_links;
