-- +goose Up
-- A failed attempt's error used to start with the receiver's URL, as Go's
-- HTTP client writes it (Post "https://…": dial tcp …), and such a URL may
-- carry the receiver's secret in its path or query. Only what follows the
-- URL is kept.
UPDATE webhook_deliveries SET last_error = substr(last_error, instr(last_error, '": ') + 3)
WHERE last_error LIKE 'Post "%' AND instr(last_error, '": ') > 0;

-- +goose Down
-- The URLs removed are not put back.
