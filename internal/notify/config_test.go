package notify_test

import (
	"strings"
	"testing"
	"time"

	"github.com/tapportal/portal/internal/notify"
)

func TestConfigValidate(t *testing.T) {
	good := func() notify.Config {
		return notify.Config{URL: "https://hooks.example/tap?token=x", Secrets: [][]byte{oldSecret}}
	}
	for _, tc := range []struct {
		name   string
		change func(c *notify.Config)
		want   []string // parts of the error; none for a valid config
	}{
		{"https", func(*notify.Config) {}, nil},
		{"http to 127.0.0.1", func(c *notify.Config) { c.URL = "http://127.0.0.1:8081/hook" }, nil},
		{"http to localhost", func(c *notify.Config) { c.URL = "http://localhost/hook" }, nil},
		{"http to ::1", func(c *notify.Config) { c.URL = "http://[::1]:9000/" }, nil},
		{"rotation", func(c *notify.Config) { c.Secrets = [][]byte{newSecret, oldSecret} }, nil},
		{"http elsewhere", func(c *notify.Config) { c.URL = "http://hooks.example/tap" }, []string{"http to hooks.example, want https"}},
		{"http to a name that looks local", func(c *notify.Config) { c.URL = "http://127.0.0.1.example/" }, []string{"want https"}},
		{"no URL", func(c *notify.Config) { c.URL = "" }, []string{"webhook URL: not set"}},
		{"relative URL", func(c *notify.Config) { c.URL = "/hook" }, []string{"not an absolute URL"}},
		{"other scheme", func(c *notify.Config) { c.URL = "ftp://hooks.example/" }, []string{`scheme "ftp"`}},
		{"no secret", func(c *notify.Config) { c.Secrets = nil }, []string{"webhook secret: none given"}},
		{"a secret of 24 bytes, as Svix makes", func(c *notify.Config) { c.Secrets = [][]byte{[]byte(strings.Repeat("s", 24))} }, nil},
		{"a secret of 64 bytes", func(c *notify.Config) { c.Secrets = [][]byte{[]byte(strings.Repeat("s", 64))} }, nil},
		{"long secret", func(c *notify.Config) { c.Secrets = [][]byte{[]byte(strings.Repeat("s", 65))} },
			[]string{"webhook secret 1: 65 bytes: want 24 to 64"}},
		{"short second secret", func(c *notify.Config) { c.Secrets = [][]byte{oldSecret, []byte("short")} },
			[]string{"webhook secret 2: 5 bytes: want 24 to 64"}},
		{"negative attempts", func(c *notify.Config) { c.MaxAttempts = -1 }, []string{"max attempts: -1"}},
		{"empty backoff", func(c *notify.Config) { c.Backoff = []time.Duration{} }, []string{"backoff: empty"}},
		{"zero wait", func(c *notify.Config) { c.Backoff = []time.Duration{time.Second, 0} }, []string{"backoff 2: 0s"}},
		{"lease shorter than two timeouts", func(c *notify.Config) { c.Timeout, c.Lease = time.Minute, time.Minute },
			[]string{"lease: 1m0s, want at least twice the timeout (2m0s)"}},
		{"default lease follows a long timeout", func(c *notify.Config) { c.Timeout = 5 * time.Minute }, nil},
		{"every fault at once", func(c *notify.Config) { c.URL, c.Secrets, c.Batch = "http://hooks.example", nil, 1000 },
			[]string{"want https", "none given", "batch: 1000"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := good()
			tc.change(&c)
			err := c.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Errorf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want an error saying %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %v, want it to say %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "token=x") {
				t.Errorf("Validate() = %v, want the URL's query left out", err)
			}
		})
	}
	if _, err := notify.New(nil, notify.Config{URL: "http://hooks.example"}); err == nil {
		t.Error("New(invalid config) = nil error, want the validation error")
	}
}
