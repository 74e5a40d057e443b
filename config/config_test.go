package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// testEnv is the environment the testdata files are parsed with.
var testEnv = map[string]string{
	"VECTOR_API_TOKEN":      "vec_test_token",
	"AWS_ACCESS_KEY_ID":     "AKIAEXAMPLE",
	"AWS_SECRET_ACCESS_KEY": "c2VjcmV0/c2VjcmV0+c2VjcmV0",
}

func lookup(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func mustParse(t testing.TB, yaml string, env map[string]string) *Config {
	t.Helper()
	c, err := Parse([]byte(yaml), "config.yaml", lookup(env))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return c
}

func ptr[T any](v T) *T { return &v }

// TestExample checks that the documented example parses to what it says.
func TestExample(t *testing.T) {
	c, err := Parse(readTestdata(t, "example.yaml"), "example.yaml", lookup(testEnv))
	if err != nil {
		t.Fatalf("Parse(example.yaml): %v", err)
	}
	want := &Config{
		API: API{
			BaseURL:             "https://api.builtfast.com/api/v1/vector",
			Token:               "vec_test_token",
			Routes:              "documented",
			Timeout:             30 * time.Second,
			PollInterval:        2 * time.Second,
			PollMaxInterval:     30 * time.Second,
			RequestsPerMinute:   120,
			DBOperationsPerHour: 10,
		},
		StateDir: "/var/lib/vectord",
		Log:      Log{Format: "logfmt", Level: "info"},
		Storage: Storage{
			Compression: "zstd",
			Local:       &Local{Path: "/var/lib/vectord/backups"},
			S3: &S3{
				Endpoint:        "https://s3.us-east-1.amazonaws.com",
				Region:          "us-east-1",
				Bucket:          "acme-db-backups",
				Prefix:          "vectord/",
				AccessKeyID:     "AKIAEXAMPLE",
				SecretAccessKey: "c2VjcmV0/c2VjcmV0+c2VjcmV0",
				StorageClass:    "STANDARD_IA",
			},
		},
		Server:          Server{Listen: "127.0.0.1:9469", TokenFile: "/etc/vectord/control-token"},
		Concurrency:     Concurrency{Exports: 4, Downloads: 2},
		ShutdownTimeout: 5 * time.Minute,
		Defaults: Defaults{
			Schedule:      "0 2 * * *",
			Timezone:      "UTC",
			Jitter:        30 * time.Minute,
			ExportTimeout: 2 * time.Hour,
			Retention: Retention{
				KeepLast: 7, KeepDaily: 14, KeepWeekly: 8, KeepMonthly: 12,
				KeepPreImport: 720 * time.Hour,
			},
		},
		Sites: []Site{{
			Name: "acme",
			ID:   "12345",
			Environments: []EnvironmentConfig{
				{Name: "development"},
				{Name: "production", ID: "67890", Schedule: "0 */6 * * *", Retention: &RetentionOverride{KeepLast: ptr(28)}},
			},
		}},
	}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("Parse(example.yaml) mismatch (-want +got):\n%s", diff)
	}

	// The example's values are the defaults: a file holding only the
	// token and the site parses to the same configuration, but for S3
	// and the control token file.
	minimal := mustParse(t, `
api: {token: "${VECTOR_API_TOKEN}"}
sites:
  - name: acme
    id: "12345"
    environments:
      - name: development
      - name: production
        id: "67890"
        schedule: "0 */6 * * *"
        retention: { keep_last: 28 }
`, testEnv)
	want.Storage.S3 = nil
	want.Server.TokenFile = ""
	if diff := cmp.Diff(want, minimal); diff != "" {
		t.Errorf("defaults differ from the documented example (-example +defaults):\n%s", diff)
	}
}

// TestGoodFiles parses every good testdata file and the top-level example
// and checks that each environment resolves to a usable schedule.
func TestGoodFiles(t *testing.T) {
	files, err := filepath.Glob("testdata/good*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, "testdata/example.yaml")
	if _, err := os.Stat("../config.example.yaml"); err == nil {
		files = append(files, "../config.example.yaml")
	}
	if len(files) < 4 {
		t.Fatalf("found only %v", files)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			c, err := Parse(data, f, lookup(testEnv))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if err := c.Validate(); err != nil {
				t.Errorf("Validate() after Parse = %v", err)
			}
			envs := c.Environments()
			if len(envs) < len(c.Sites) {
				t.Errorf("Environments() has %d environments for %d sites", len(envs), len(c.Sites))
			}
			now := time.Date(2026, 1, 24, 12, 0, 0, 0, time.UTC)
			for _, e := range envs {
				if e.Cron == nil || e.Location == nil {
					t.Fatalf("environment %s/%s: Cron %v, Location %v", e.Site, e.Name, e.Cron, e.Location)
				}
				if next := e.Cron.Next(now); !next.After(now) {
					t.Errorf("environment %s/%s: Cron.Next(%v) = %v", e.Site, e.Name, now, next)
				}
			}
		})
	}
}

// TestInvalidFiles parses every invalid testdata file and compares the
// whole error with the file's "# want:" lines.
func TestInvalidFiles(t *testing.T) {
	files, err := filepath.Glob("testdata/invalid-*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 20 {
		t.Fatalf("found only %d invalid files", len(files))
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".yaml"), func(t *testing.T) {
			data := readTestdata(t, filepath.Base(f))
			var want []string
			for _, line := range strings.Split(string(data), "\n") {
				w, ok := strings.CutPrefix(line, "# want: ")
				if !ok {
					break
				}
				want = append(want, w)
			}
			if len(want) == 0 {
				t.Fatal("no # want: line")
			}
			c, err := Parse(data, "config.yaml", lookup(testEnv))
			if err == nil {
				t.Fatalf("Parse = %+v, want an error", c)
			}
			if c != nil {
				t.Errorf("Parse returned a Config with its error")
			}
			if got := err.Error(); got != strings.Join(want, "\n") {
				t.Errorf("Parse error:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
			}
			var e *Error
			if !errors.As(err, &e) || e.File != "config.yaml" || e.Msg == "" {
				t.Errorf("errors.As(err, *Error) = %+v", e)
			}
		})
	}
}

// TestDefaults checks the defaults a short file gets, and the storage
// rules: local under state_dir only when storage is absent or local has
// no path.
func TestDefaults(t *testing.T) {
	const head = "api: {token: t}\nsites: [{name: a, id: '1'}]\n"
	tests := []struct {
		name  string
		yaml  string
		local *Local
		s3    bool
	}{
		{"no storage section", head, &Local{Path: "/var/lib/vectord/backups"}, false},
		{"no storage section, own state_dir", head + "state_dir: /srv/v\n", &Local{Path: "/srv/v/backups"}, false},
		{"local without path", head + "state_dir: /srv/v\nstorage: {local: {}}\n", &Local{Path: "/srv/v/backups"}, false},
		{"local as null", head + "storage:\n  local:\n", &Local{Path: "/var/lib/vectord/backups"}, false},
		{"local path", head + "storage: {local: {path: /b}}\n", &Local{Path: "/b"}, false},
		{"s3 only", head + "storage: {s3: {bucket: b, access_key_id: k, secret_access_key: s}}\n", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustParse(t, tt.yaml, nil)
			if diff := cmp.Diff(tt.local, c.Storage.Local); diff != "" {
				t.Errorf("Storage.Local (-want +got):\n%s", diff)
			}
			if (c.Storage.S3 != nil) != tt.s3 {
				t.Errorf("Storage.S3 = %+v, want set: %v", c.Storage.S3, tt.s3)
			}
			if c.Storage.Compression != "zstd" || c.Server.Listen != "127.0.0.1:9469" || c.API.Routes != "documented" {
				t.Errorf("defaults not applied: %+v", c)
			}
		})
	}
}

func TestNormalization(t *testing.T) {
	c := mustParse(t, `
api: {token: t, base_url: "http://127.0.0.1:8080/api/v1/vector/"}
storage:
  s3: {bucket: b, prefix: /backups, access_key_id: k, secret_access_key: s}
sites: [{name: a, id: 7}]
`, nil)
	if got, want := c.API.BaseURL, "http://127.0.0.1:8080/api/v1/vector"; got != want {
		t.Errorf("BaseURL = %q, want %q", got, want)
	}
	if got, want := c.Storage.S3.Prefix, "backups/"; got != want {
		t.Errorf("Prefix = %q, want %q", got, want)
	}
	if got, want := c.Sites[0].ID, "7"; got != want {
		t.Errorf("an unquoted numeric id = %q, want %q", got, want)
	}
}

func TestExpansion(t *testing.T) {
	tests := []struct {
		name  string
		value string
		env   map[string]string
		want  string
	}{
		{"variable", "${TOKEN}", map[string]string{"TOKEN": "abc"}, "abc"},
		{"in text", "pre-${TOKEN}-post", map[string]string{"TOKEN": "abc"}, "pre-abc-post"},
		{"two variables", "${A}${B}", map[string]string{"A": "x", "B": "y"}, "xy"},
		{"default when unset", "${TOKEN:-fallback}", nil, "fallback"},
		{"default when empty", "${TOKEN:-fallback}", map[string]string{"TOKEN": ""}, "fallback"},
		{"default unused", "${TOKEN:-fallback}", map[string]string{"TOKEN": "abc"}, "abc"},
		{"default with colon", "${TOKEN:-a:b}", nil, "a:b"},
		{"value with YAML syntax", "${TOKEN}", map[string]string{"TOKEN": "a #b: c'\"{}"}, "a #b: c'\"{}"},
		{"value not expanded again", "${TOKEN}", map[string]string{"TOKEN": "${OTHER}", "OTHER": "no"}, "${OTHER}"},
		{"dollar dollar", "pa$$word", nil, "pa$word"},
		{"escaped reference", "$${TOKEN}", map[string]string{"TOKEN": "abc"}, "${TOKEN}"},
		{"lone dollar", "pa$word$", nil, "pa$word$"},
		{"bare name not expanded", "$TOKEN", map[string]string{"TOKEN": "abc"}, "$TOKEN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := expand(tt.value, lookup(tt.env))
			if err != nil || got != tt.want {
				t.Errorf("expand(%q) = %q, %v; want %q", tt.value, got, err, tt.want)
			}
		})
	}
	for _, bad := range []string{"${", "${TOKEN", "${}", "${1A}", "${A B}", "${A-b}", "${A:?x}"} {
		t.Run("bad "+bad, func(t *testing.T) {
			if got, _, err := expand(bad, nil); err == nil {
				t.Errorf("expand(%q) = %q, want an error", bad, got)
			}
		})
	}
}

// TestExpansionInFile checks expansion through Parse: in every value,
// typed values included, with the variable named when it leaves a
// required value empty.
func TestExpansionInFile(t *testing.T) {
	yaml := `
api:
  token: ${VECTOR_API_TOKEN}
  db_operations_per_hour: ${OPS:-5}
defaults:
  jitter: ${JITTER}
sites:
  - name: ${SITE:-acme}
    id: "${SITE_ID}"
`
	env := map[string]string{"VECTOR_API_TOKEN": "tok:#1'\"{", "JITTER": "7d", "SITE_ID": "99"}
	c := mustParse(t, yaml, env)
	if c.API.Token != "tok:#1'\"{" || c.API.DBOperationsPerHour != 5 || c.Defaults.Jitter != 7*24*time.Hour ||
		c.Sites[0].Name != "acme" || c.Sites[0].ID != "99" {
		t.Errorf("Parse = %+v", c)
	}

	_, err := Parse([]byte(yaml), "config.yaml", lookup(map[string]string{"JITTER": "1m"}))
	want := "config.yaml: api.token: line 3: empty (is VECTOR_API_TOKEN set?)\n" +
		"config.yaml: sites[0].id: line 9: empty (is SITE_ID set?)"
	if err == nil || err.Error() != want {
		t.Errorf("Parse without variables = %v, want:\n%s", err, want)
	}
	_, err = Parse([]byte(yaml), "config.yaml", nil)
	want = "config.yaml: api.token: line 3: empty (is VECTOR_API_TOKEN set?)\n" +
		"config.yaml: defaults.jitter: line 6: empty: expected a duration (is JITTER set?)\n" +
		"config.yaml: sites[0].id: line 9: empty (is SITE_ID set?)"
	if err == nil || err.Error() != want {
		t.Errorf("Parse with nil lookupEnv = %v, want:\n%s", err, want)
	}
}

// TestExpansionStyles checks that references work in every YAML style,
// and that the placeholders that protect them never leak.
func TestExpansionStyles(t *testing.T) {
	env := map[string]string{"T": "tok", "K": "9", "ID": "77"}
	tests := []struct {
		name, yaml string
		check      func(c *Config) bool
	}{
		{"flow mapping", "api: {token: ${T}}\nsites: [{name: a, id: ${ID}}]\n",
			func(c *Config) bool { return c.API.Token == "tok" && c.Sites[0].ID == "77" }},
		{"flow with default holding a comma", "api: {token: '${UNSET:-a,b}'}\nsites: [{name: a, id: '1', environments: [{name: p, retention: {keep_last: ${UNSET:-5}}}]}]\n",
			func(c *Config) bool {
				return c.API.Token == "a,b" && *c.Sites[0].Environments[0].Retention.KeepLast == 5
			}},
		{"double quoted", "api: {token: \"x${T}y\"}\nsites: [{name: a, id: \"${ID}\"}]\n",
			func(c *Config) bool { return c.API.Token == "xtoky" }},
		{"block scalar", "api:\n  token: >-\n    ${T}\nsites: [{name: a, id: '1'}]\n",
			func(c *Config) bool { return c.API.Token == "tok" }},
		{"text like a placeholder", "api: {token: qvectordref0q}\nsites: [{name: a, id: '${ID}'}]\n",
			func(c *Config) bool { return c.API.Token == "qvectordref0q" && c.Sites[0].ID == "77" }},
		{"escaped in block style", "api: {token: 'a$${T}'}\nsites: [{name: a, id: '1'}]\n",
			func(c *Config) bool { return c.API.Token == "a${T}" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustParse(t, tt.yaml, env)
			if !tt.check(c) {
				t.Errorf("Parse = %+v", c)
			}
		})
	}
	// A reference after a backslash in a double-quoted string is the
	// same YAML error as without placeholders.
	if _, err := Parse([]byte("api: {token: \"\\${T}\"}\n"), "config.yaml", lookup(env)); err == nil ||
		!strings.Contains(err.Error(), "invalid YAML") {
		t.Errorf("Parse of \\${T} = %v, want invalid YAML", err)
	}
}

// TestInheritance checks that environments inherit every defaults key
// they do not set, and retention key by key.
func TestInheritance(t *testing.T) {
	c := mustParse(t, `
api: {token: t}
defaults:
  schedule: "30 3 * * *"
  timezone: Europe/Berlin
  jitter: 10m
  export_timeout: 1h
  retention: {keep_last: 3, keep_daily: 5}
sites:
  - name: acme
    id: "1"
    environments:
      - name: development
      - name: production
        id: "10"
        schedule: "@hourly"
        timezone: America/New_York
        jitter: 0s
        export_timeout: 3h
        retention: {keep_last: 10, keep_within: 2d}
  - name: blog
    id: "2"
`, nil)
	berlin, _ := time.LoadLocation("Europe/Berlin")
	newYork, _ := time.LoadLocation("America/New_York")
	inherited := Retention{KeepLast: 3, KeepDaily: 5, KeepWeekly: 8, KeepMonthly: 12, KeepPreImport: 720 * time.Hour}
	overridden := inherited
	overridden.KeepLast = 10
	overridden.KeepWithin = 48 * time.Hour
	want := []Environment{
		{Site: "acme", Name: "development", SiteID: "1", Schedule: "30 3 * * *", Location: berlin,
			Jitter: 10 * time.Minute, ExportTimeout: time.Hour, Retention: inherited, Source: SourceExport},
		{Site: "acme", Name: "production", SiteID: "1", EnvironmentID: "10", Schedule: "@hourly", Location: newYork,
			Jitter: 0, ExportTimeout: 3 * time.Hour, Retention: overridden, Source: SourceExport},
		{Site: "blog", Name: "development", SiteID: "2", Schedule: "30 3 * * *", Location: berlin,
			Jitter: 10 * time.Minute, ExportTimeout: time.Hour, Retention: inherited, Source: SourceExport},
	}
	got := c.Environments()
	for i := range got {
		if got[i].Cron == nil {
			t.Fatalf("Environments()[%d].Cron = nil", i)
		}
		got[i].Cron = nil
	}
	cmpLoc := cmp.Comparer(func(a, b *time.Location) bool { return a.String() == b.String() })
	if diff := cmp.Diff(want, got, cmpLoc); diff != "" {
		t.Errorf("Environments() (-want +got):\n%s", diff)
	}
}

// TestCronLocation checks that schedules run in the configured time zone
// whatever the zone of the time given to Next.
func TestCronLocation(t *testing.T) {
	c := mustParse(t, `
api: {token: t}
defaults: {schedule: "0 2 * * *", timezone: Europe/Berlin}
sites: [{name: a, id: "1"}]
`, nil)
	e, err := c.Environment("a", "")
	if err != nil {
		t.Fatal(err)
	}
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	for _, now := range []time.Time{
		time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 1, 1, 9, 0, 0, 0, tokyo),
	} {
		// 02:00 in Berlin in winter is 01:00 UTC.
		if got, want := e.Cron.Next(now), time.Date(2026, 1, 1, 1, 0, 0, 0, time.UTC); !got.Equal(want) {
			t.Errorf("Cron.Next(%v) = %v, want %v", now, got, want)
		}
	}
}

// TestEnvironmentChoice checks the --env choice rule.
func TestEnvironmentChoice(t *testing.T) {
	c := mustParse(t, `
api: {token: t}
sites:
  - name: solo
    id: "1"
    environments: [{name: production, id: "10"}]
  - name: plain
    id: "2"
  - name: pair
    id: "3"
    environments: [{name: production, id: "30"}, {name: development}]
  - name: nodev
    id: "4"
    environments: [{name: production, id: "40"}, {name: staging, id: "41"}]
`, nil)
	tests := []struct {
		site, env string
		want      string // environment name, or the error
	}{
		{"solo", "", "production"},
		{"solo", "production", "production"},
		{"plain", "", "development"},
		{"plain", "development", "development"},
		{"pair", "", "development"},
		{"pair", "production", "production"},
		{"nodev", "staging", "staging"},
		{"nodev", "", "error: site nodev has 2 environments and none is named development: choose one of production, staging"},
		{"pair", "staging", `error: site pair has no environment "staging" (configured: production, development)`},
		{"plain", "production", `error: site plain has no environment "production" (configured: development)`},
		{"acme", "", `error: unknown site "acme" (configured: solo, plain, pair, nodev)`},
	}
	for _, tt := range tests {
		t.Run(tt.site+"/"+tt.env, func(t *testing.T) {
			e, err := c.Environment(tt.site, tt.env)
			got := e.Name
			if err != nil {
				got = "error: " + err.Error()
			} else if e.Site != tt.site || e.Cron == nil {
				t.Errorf("Environment(%q, %q) = %+v", tt.site, tt.env, e)
			}
			if got != tt.want {
				t.Errorf("Environment(%q, %q) = %q, want %q", tt.site, tt.env, got, tt.want)
			}
		})
	}
	var empty Config
	if _, err := empty.Environment("a", ""); err == nil || err.Error() != `unknown site "a": no sites are configured` {
		t.Errorf("Environment on an empty config = %v", err)
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"30s", 30 * time.Second, true},
		{"720h", 720 * time.Hour, true},
		{"1h30m", 90 * time.Minute, true},
		{"0", 0, true},
		{"-5m", -5 * time.Minute, true},
		{"7d", 7 * 24 * time.Hour, true},
		{"1d12h", 36 * time.Hour, true},
		{"0d", 0, true},
		{"30", 0, false},
		{"d", 0, false},
		{"1.5d", 0, false},
		{"-1d", 0, false},
		{"7dd", 0, false},
		{"1d-1h", 0, false},
		{"30 seconds", 0, false},
		{"", 0, false},
		{"999999999d", 0, false},
		{"106751d23h59m", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseDuration(tt.in)
			if (err == nil) != tt.ok || got != tt.want {
				t.Errorf("parseDuration(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
			}
		})
	}
}

func TestSchedules(t *testing.T) {
	tests := []struct {
		spec string
		ok   bool
	}{
		{"0 2 * * *", true},
		{"*/15 * * * 1-5", true},
		{"@daily", true},
		{"@weekly", true},
		{"@every 90s", true},
		{" @hourly ", true},
		{"0 0 2 * * *", false},
		{"0 2 * *", false},
		{"61 * * * *", false},
		{"@fortnightly", false},
		{"@every 0s", false},
		{"@every -1h", false},
		{"@every soon", false},
		{"TZ=UTC", false},
		{"CRON_TZ=UTC 0 2 * * *", false},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			_, err := parseSchedule(tt.spec, time.UTC)
			if (err == nil) != tt.ok {
				t.Errorf("parseSchedule(%q) = %v, want ok %v", tt.spec, err, tt.ok)
			}
		})
	}
}

func TestListen(t *testing.T) {
	tests := []struct {
		listen, tokenFile string
		wantErr           string
	}{
		{"127.0.0.1:9469", "", ""},
		{"localhost:9469", "", ""},
		{"[::1]:9469", "", ""},
		{"127.0.0.1:0", "", ""},
		{"0.0.0.0:9469", "/etc/vectord/control-token", ""},
		{"0.0.0.0:9469", "", `server.token_file: missing: required because server.listen "0.0.0.0:9469" accepts connections from other hosts`},
		{"backup.example.com:9469", "", "server.token_file: missing"},
		{"127.0.0.1:http", "", `server.listen: invalid port "http" in "127.0.0.1:http"`},
		{"127.0.0.1:70000", "", `server.listen: invalid port "70000"`},
		{"127.0.0.1", "", `server.listen: expected host:port, found "127.0.0.1"`},
	}
	for _, tt := range tests {
		t.Run(tt.listen+" "+tt.tokenFile, func(t *testing.T) {
			c := Default()
			c.API.Token = "t"
			c.Sites = []Site{{Name: "a", ID: "1"}}
			c.Server = Server{Listen: tt.listen, TokenFile: tt.tokenFile}
			err := c.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Errorf("Validate() = %v", err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
				t.Errorf("Validate() = %v, want %s", err, tt.wantErr)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	c := Default()
	if err := c.Validate(); err == nil || err.Error() != "api.token: missing: set api.token or api.token_file\nsites: no sites configured: nothing to back up" {
		t.Errorf("Default().Validate() = %v", err)
	}
	c.API.TokenFile = "/etc/vectord/api-token"
	c.Sites = []Site{{Name: "a", ID: "1", Environments: []EnvironmentConfig{{Name: "prod", ID: "2", Jitter: ptr(-time.Second)}}}}
	if err := c.Validate(); err == nil || err.Error() != "sites[0].environments[0] (a/prod).jitter: must not be negative, found -1s" {
		t.Errorf("Validate() = %v", err)
	}
	c.Sites[0].Environments[0].Jitter = nil
	if err := c.Validate(); err != nil {
		t.Errorf("Validate() = %v", err)
	}
}

// TestSecretsNeverInErrors checks that a malformed secret is reported
// without its value.
func TestSecretsNeverInErrors(t *testing.T) {
	const secret = "s3cr3t value"
	tests := []struct {
		name, yaml string
	}{
		{"token", "api: {token: \"${SECRET}\"}\n"},
		{"base_url credentials", "api: {token: t, base_url: \"https://user:${SECRET}@example.com/\"}\n"},
		{"base_url credentials without space", "api: {token: t, base_url: \"https://user:s3cr3t@example.com/\"}\n"},
		{"base_url query", "api: {token: t, base_url: \"https://example.com/api?sig=${SECRET}\"}\n"},
		{"base_url query without a scheme", "api: {token: t, base_url: \"example.com/api?sig=s3cr3t\"}\n"},
		{"base_url fragment", "api: {token: t, base_url: \"https://example.com/api#s3cr3t\"}\n"},
		{"s3 endpoint query", "api: {token: t}\nstorage: {s3: {bucket: b, access_key_id: k, secret_access_key: s, endpoint: \"https://s3.example.com/?X-Amz-Signature=s3cr3t\"}}\n"},
		{"s3 secret", "api: {token: t}\nstorage: {s3: {bucket: b, access_key_id: k, secret_access_key: \"${SECRET}\"}}\n"},
		{"type error", "api: {token: [\"${SECRET}\"]}\n"},
		{"bad reference", "api: {token: \"s3cr3t${\"}\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml+"sites: [{name: a, id: '1'}]\n"), "config.yaml", lookup(map[string]string{"SECRET": secret}))
			if err == nil {
				t.Fatalf("Parse accepted it")
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("error quotes the secret: %v", err)
			}
		})
	}
}

func TestErrorFormat(t *testing.T) {
	tests := []struct {
		err  Error
		want string
	}{
		{Error{File: "config.yaml", Path: "sites[1].schedule", Line: 14, Msg: "bad"}, "config.yaml: sites[1].schedule: line 14: bad"},
		{Error{File: "config.yaml", Line: 3, Msg: "bad"}, "config.yaml: line 3: bad"},
		{Error{File: "config.yaml", Path: "sites", Msg: "bad"}, "config.yaml: sites: bad"},
		{Error{Path: "api.token", Msg: "missing"}, "api.token: missing"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

// TestParseReadsNoFiles checks that Parse leaves *_file keys to Load.
func TestParseReadsNoFiles(t *testing.T) {
	c := mustParse(t, `
api: {token_file: /nonexistent/api-token}
server: {listen: "0.0.0.0:9469", token_file: relative/control-token}
sites: [{name: a, id: "1"}]
`, nil)
	if c.API.Token != "" || c.API.TokenFile != "/nonexistent/api-token" || c.Server.TokenFile != "relative/control-token" {
		t.Errorf("Parse = %+v", c)
	}
}

func TestEmptyDocument(t *testing.T) {
	for _, in := range []string{"", "# only a comment\n", "---\n"} {
		_, err := Parse([]byte(in), "config.yaml", nil)
		want := "config.yaml: api.token: missing: set api.token or api.token_file\nconfig.yaml: sites: no sites configured: nothing to back up"
		if err == nil || err.Error() != want {
			t.Errorf("Parse(%q) = %v, want:\n%s", in, err, want)
		}
	}
}

func TestAliasBomb(t *testing.T) {
	// Each level doubles the list: 2^40 values once expanded.
	var b strings.Builder
	b.WriteString("api: {token: t}\nsites: [{name: a, id: '1'}]\nbomb:\n  - &a0 [x, x]\n")
	for i := 1; i <= 40; i++ {
		fmt.Fprintf(&b, "  - &a%d [*a%d, *a%d]\n", i, i-1, i-1)
	}
	_, err := Parse([]byte(b.String()), "config.yaml", nil)
	if want := "config.yaml: document too large once its aliases are expanded, or an alias refers to its own anchor"; err == nil || err.Error() != want {
		t.Errorf("Parse = %v, want %s", err, want)
	}
}

// TestSourceDefaults: CONTRACT §9 — source export by default, backup for
// an environment with an id under api.routes: openapi, the defaults and
// the environment's own key winning in that order.
func TestSourceDefaults(t *testing.T) {
	c := mustParse(t, `api:
  token: x
  routes: openapi
defaults:
  source: mirror
sites:
  - name: acme
    id: "1"
    environments:
      - name: development
      - name: production
        id: "10"
        source: backup
  - name: blog
    id: "2"
`, nil)
	got := map[string]string{}
	for _, e := range c.Environments() {
		got[e.Site+"/"+e.Name] = e.Source
	}
	if got["acme/development"] != SourceMirror || got["acme/production"] != SourceBackup || got["blog/development"] != SourceMirror {
		t.Errorf("sources = %v", got)
	}
	c = mustParse(t, `api:
  token: x
  routes: openapi
sites:
  - name: acme
    id: "1"
    environments:
      - name: development
      - name: production
        id: "10"
`, nil)
	for _, e := range c.Environments() {
		want := SourceExport
		if e.EnvironmentID != "" {
			want = SourceBackup
		}
		if e.Source != want {
			t.Errorf("%s/%s source = %q, want %q", e.Site, e.Name, e.Source, want)
		}
	}
}
