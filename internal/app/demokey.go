package app

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/tapportal/portal/internal/config"
	"github.com/tapportal/portal/internal/session"
)

// DemoAuditKey returns the demo's audit key, kept in a file readable by
// its owner only under dataDir; with create set, a missing file is made
// with a fresh key. It returns "" when the file is missing and create is
// not set.
func DemoAuditKey(dataDir string, create bool) (string, error) {
	path := filepath.Join(dataDir, "demo-audit-key")
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		key := strings.TrimSpace(string(b))
		if len(key) < config.MinSecretLength {
			return "", fmt.Errorf("the demo audit key in %s is %d characters: want at least %d (delete the file and its history to start again)", path, len(key), config.MinSecretLength)
		}
		return key, nil
	case !errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("the demo audit key: %w", err)
	case !create:
		return "", nil
	}
	key := session.RandomToken()
	if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("the demo audit key: %w", err)
	}
	return key, nil
}
