package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLogSection(t *testing.T) {
	const head = "api: {token: t}\nsites: [{name: a, id: '1'}]\n"
	tests := []struct {
		yaml string
		want Log
	}{
		{head, Log{Format: "logfmt", Level: "info"}},
		{head + "log: {}\n", Log{Format: "logfmt", Level: "info"}},
		{head + "log:\n", Log{Format: "logfmt", Level: "info"}},
		{head + "log: {format: json}\n", Log{Format: "json", Level: "info"}},
		{head + "log: {level: debug}\n", Log{Format: "logfmt", Level: "debug"}},
		{head + "log: {format: '${FORMAT:-logfmt}', level: '${LEVEL}'}\n", Log{Format: "logfmt", Level: "error"}},
	}
	for _, tt := range tests {
		c := mustParse(t, tt.yaml, map[string]string{"LEVEL": "error"})
		if c.Log != tt.want {
			t.Errorf("Parse(%q).Log = %+v, want %+v", tt.yaml, c.Log, tt.want)
		}
	}
	for _, level := range []string{"debug", "info", "warn", "error"} {
		mustParse(t, head+"log: {level: "+level+"}\n", nil)
	}

	c := Default()
	c.API.Token = "t"
	c.Sites = []Site{{Name: "a", ID: "1"}}
	c.Log = Log{}
	want := "log.format: missing\nlog.level: missing"
	if err := c.Validate(); err == nil || err.Error() != want {
		t.Errorf("Validate() with an empty Log = %v, want:\n%s", err, want)
	}
}

// TestCheckURL checks that every malformed URL is explained, with the
// form to write, and that no message quotes a query string, a fragment or
// credentials.
func TestCheckURL(t *testing.T) {
	const ex = exampleBaseURL
	tests := []struct {
		in, want string // want "" means valid
	}{
		{"https://api.builtfast.com/api/v1/vector", ""},
		{"http://127.0.0.1:8080/api/v1/vector", ""},
		{"HTTPS://api.builtfast.com", ""},
		{"api.builtfast.com/api/v1/vector", `invalid URL "api.builtfast.com/api/v1/vector": the scheme is missing: write https://api.builtfast.com/api/v1/vector`},
		{"api.builtfast.com:443/api/v1/vector", `invalid URL "api.builtfast.com:443/api/v1/vector": the scheme is missing: write https://api.builtfast.com:443/api/v1/vector`},
		{"127.0.0.1:8080/api/v1/vector", `invalid URL "127.0.0.1:8080/api/v1/vector": the scheme is missing: write https://127.0.0.1:8080/api/v1/vector`},
		{"localhost:8080", `invalid URL "localhost:8080": the scheme is missing: write https://localhost:8080`},
		{"//api.builtfast.com/api", `invalid URL "//api.builtfast.com/api": the scheme is missing: write https://api.builtfast.com/api`},
		{"api.builtfast.com/x?token=SECRET", `invalid URL "api.builtfast.com/x?...": the scheme is missing: write https://api.builtfast.com/x`},
		{"api builtfast com", `invalid URL "api builtfast com": the scheme is missing: expected a form such as ` + ex},
		{"/api/v1/vector", `invalid URL "/api/v1/vector": a path without a scheme and host: expected a form such as ` + ex},
		{"https:/api.builtfast.com/api", `invalid URL "https:/api.builtfast.com/api": write two slashes after the scheme: https://api.builtfast.com/api`},
		{"https:", `invalid URL "https:": write two slashes after the scheme, as in ` + ex},
		{"https:///api", `invalid URL "https:///api": no host after https://: expected a form such as ` + ex},
		{"ftp://api.example.com", `invalid URL "ftp://api.example.com": expected http:// or https://`},
		{"https://api.builtfast.com /x", `invalid URL "https://api.builtfast.com /x": invalid character " " in host name: expected a form such as ` + ex},
		{"https://api.builtfast.com:port/x", `invalid URL "https://api.builtfast.com:port/x": invalid port ":port" after host: expected a form such as ` + ex},
		{"https://api.builtfast.com/api?token=SECRET", `invalid URL "https://api.builtfast.com/api?...": remove the query string: write https://api.builtfast.com/api`},
		{"https://api.builtfast.com/api?", `invalid URL "https://api.builtfast.com/api?...": remove the query string: write https://api.builtfast.com/api`},
		{"https://api.builtfast.com/api#SECRET", `invalid URL "https://api.builtfast.com/api#...": remove the fragment: write https://api.builtfast.com/api`},
		{"https://api.builtfast.com/%zz?sig=SECRET", `invalid URL "https://api.builtfast.com/%zz?...": invalid URL escape "%zz": expected a form such as ` + ex},
		{"https://user:SECRET@api.builtfast.com/", "the URL must not hold credentials"},
		{"https://user:SECRET value@api.builtfast.com/", "the URL must not hold credentials"},
		{"user:SECRET@api.builtfast.com/api", "the URL must not hold credentials"},
		{"https://user:SEC?RET@api.builtfast.com/api", "the URL must not hold credentials"},
		{"https://user:SEC#RET@api.builtfast.com/api", "the URL must not hold credentials"},
		{"https://api.builtfast.com/api?next=user@SECRET", `invalid URL "https://api.builtfast.com/api?...": remove the query string: write https://api.builtfast.com/api`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			err := checkURL(tt.in, ex)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("checkURL(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if strings.Contains(got, "SECRET") {
				t.Errorf("checkURL(%q) quotes the secret: %q", tt.in, got)
			}
		})
	}
}

// TestCronErrors checks that an error in a five-field expression names
// the field and the valid ranges.
func TestCronErrors(t *testing.T) {
	const ranges = " (minute 0-59, hour 0-23, day of month 1-31, month 1-12, day of week 0-6)"
	tests := []struct{ spec, want string }{
		{"61 * * * *", `"61 * * * *": minute field: 61 is above the maximum 59` + ranges},
		{"0 24 * * *", `"0 24 * * *": hour field: 24 is above the maximum 23` + ranges},
		{"0 2 0 * *", `"0 2 0 * *": day of month field: 0 is below the minimum 1` + ranges},
		{"0 2 1 13 *", `"0 2 1 13 *": month field: 13 is above the maximum 12` + ranges},
		{"0 2 * * 7", `"0 2 * * 7": day of week field: 7 is above the maximum 6: Sunday is 0` + ranges},
		{"0 2 * * 1-8", `"0 2 * * 1-8": day of week field: 8 is above the maximum 6` + ranges},
		{"0 22-2 * * *", `"0 22-2 * * *": hour field: the range 22-2 ends before it starts: write it as 22-23,0-2` + ranges},
		{"61/5 * * * *", `"61/5 * * * *": minute field: 61 is above the maximum 59` + ranges},
		{"*/0 * * * *", `"*/0 * * * *": minute field: "*/0": the step after / must be at least 1` + ranges},
		{"*/-5 * * * *", `"*/-5 * * * *": minute field: "*/-5": the step after / must be at least 1` + ranges},
		{"x 2 * * *", `"x 2 * * *": minute field: "x" is not a number` + ranges},
		{"0 2 * foo *", `"0 2 * foo *": month field: "foo" is not a number or a name such as jan` + ranges},
		{"0 2 * * funday", `"0 2 * * funday": day of week field: "funday" is not a number or a name such as mon` + ranges},
		{"-5 2 * * *", `"-5 2 * * *": minute field: "-5": a number is missing` + ranges},
		{"1-2-3 2 * * *", `"1-2-3 2 * * *": minute field: "1-2-3": too many hyphens: write a range as 1-5` + ranges},
		{"*/5/2 2 * * *", `"*/5/2 2 * * *": minute field: "*/5/2": too many slashes: write a step as */15 or 0-30/10` + ranges},
		{"0 2,25 * * *", `"0 2,25 * * *": hour field: 25 is above the maximum 23` + ranges},
		// The first field at fault is named.
		{"61 24 * * *", `"61 24 * * *": minute field: 61 is above the maximum 59` + ranges},
		// Errors that are not about one field are as robfig/cron says.
		{"0 0 */6 * * *", "expected exactly 5 fields, found 6: [0 0 */6 * * *]"},
		{"@fortnightly", "unrecognized descriptor: @fortnightly"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			_, err := parseSchedule(tt.spec, time.UTC)
			if err == nil || err.Error() != tt.want {
				t.Errorf("parseSchedule(%q) = %v, want %q", tt.spec, err, tt.want)
			}
		})
	}
}

// TestErrorNames checks that errors about an environment name its site and
// environment, decoding and validation errors alike, and only when both
// names are valid.
func TestErrorNames(t *testing.T) {
	_, err := Parse([]byte(`
api: {token: t}
sites:
  - name: acme
    id: "1"
    environments:
      - name: production
        id: "10"
        jitter: soon
        colour: blue
      - name: Staging
        id: "11"
        schedule: "0 2 * *"
      - id: "12"
        export_timeout: 0s
  - name: blog
    id: "2"
    environments:
      - name: development
        retention: {keep_last: -1}
`), "config.yaml", nil)
	want := `config.yaml: sites[0].environments[0] (acme/production).jitter: line 9: invalid duration "soon": use a Go duration such as 30s, 90m or 720h, or days such as 7d
config.yaml: sites[0].environments[0] (acme/production).colour: line 10: unknown key (known keys: export_timeout, id, jitter, name, retention, schedule, source, timezone)
config.yaml: sites[0].environments[1].name: line 11: invalid name "Staging": use lowercase letters, digits, _ and -, starting with a letter or digit
config.yaml: sites[0].environments[1].schedule: line 13: expected exactly 5 fields, found 4: [0 2 * *]
config.yaml: sites[0].environments[2].name: line 14: missing
config.yaml: sites[0].environments[2].export_timeout: line 15: must be positive, found 0s
config.yaml: sites[1].environments[0] (blog/development).retention.keep_last: line 20: must not be negative, found -1`
	if err == nil || err.Error() != want {
		t.Errorf("Parse error:\n%v\nwant:\n%s", err, want)
	}

	var e *Error
	if !errors.As(err, &e) || e.Path != "sites[0].environments[0].jitter" || e.Names != "acme/production" {
		t.Errorf("first error = %+v, want Path sites[0].environments[0].jitter and Names acme/production", e)
	}
}

func TestErrorFormatNames(t *testing.T) {
	tests := []struct {
		err  Error
		want string
	}{
		{Error{Path: "sites[0].environments[1].schedule", Names: "acme/production", Line: 14, Msg: "bad"}, "sites[0].environments[1] (acme/production).schedule: line 14: bad"},
		{Error{Path: "sites[10].environments[12]", Names: "acme/production", Msg: "bad"}, "sites[10].environments[12] (acme/production): bad"},
		{Error{Path: "sites[0].environments[1].schedule", Msg: "bad"}, "sites[0].environments[1].schedule: bad"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

// TestTokenBothSet checks that the message says which key to remove and
// that a variable exported in the environment counts.
func TestTokenBothSet(t *testing.T) {
	const yaml = "api:\n  token: ${VECTOR_API_TOKEN}\n  token_file: /etc/vectord/api-token\nsites: [{name: a, id: '1'}]\n"
	// Unset, the variable leaves token empty: token_file is used.
	c := mustParse(t, yaml, nil)
	if c.API.Token != "" || c.API.TokenFile != "/etc/vectord/api-token" {
		t.Errorf("without VECTOR_API_TOKEN: API = %+v", c.API)
	}
	_, err := Parse([]byte(yaml), "config.yaml", lookup(map[string]string{"VECTOR_API_TOKEN": "vec_secret"}))
	want := "config.yaml: api.token: line 2: api.token and api.token_file are both set: api.token expands ${VECTOR_API_TOKEN}, and VECTOR_API_TOKEN is exported, so it counts as set; " +
		"remove api.token to use the file named by api.token_file (line 3), or remove api.token_file to use $VECTOR_API_TOKEN"
	if err == nil || err.Error() != want {
		t.Errorf("with VECTOR_API_TOKEN exported: %v, want:\n%s", err, want)
	}

	two := "api:\n  token: ${A}${B:-x}${C}\n  token_file: f\nsites: [{name: a, id: '1'}]\n"
	_, err = Parse([]byte(two), "config.yaml", lookup(map[string]string{"A": "a", "C": "c"}))
	if err == nil || !strings.Contains(err.Error(), "api.token expands ${A} and ${C}, and A and C are exported, so it counts as set;") ||
		!strings.HasSuffix(err.Error(), "or remove api.token_file to use $A and $C") {
		t.Errorf("with two variables: %v", err)
	}

	d := Default()
	d.API.Token, d.API.TokenFile = "t", "/etc/vectord/api-token"
	d.Sites = []Site{{Name: "a", ID: "1"}}
	want = "api.token: api.token and api.token_file are both set: remove api.token to use the file named by api.token_file, or remove api.token_file to use the inline value"
	if err := d.Validate(); err == nil || err.Error() != want {
		t.Errorf("Validate() = %v, want %s", err, want)
	}
}

func TestLoadMissingFileMessage(t *testing.T) {
	p := filepath.Join(t.TempDir(), "config.yaml")
	_, err := Load(p)
	want := "config file " + p + " does not exist: name the file with --config PATH or in $VECTORD_CONFIG (without either, vectord reads /etc/vectord/config.yaml)"
	if err == nil || err.Error() != want {
		t.Errorf("Load of a missing file = %v, want:\n%s", err, want)
	}
}

// TestLoadUnreadable checks the advice for a file the user may not read,
// with a real file where the test is not run as root, and always through
// the message built for one.
func TestLoadUnreadable(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "config.yaml")
	writeFiles(t, dir, map[string]string{"config.yaml": "api: {token: t}\nsites: [{name: a, id: '1'}]\n"})
	me, err := user.Current()
	if err != nil {
		t.Skipf("current user: %v", err)
	}

	if os.Geteuid() != 0 {
		if err := os.Chmod(p, 0); err != nil {
			t.Fatal(err)
		}
		_, err := Load(p)
		if !errors.Is(err, fs.ErrPermission) {
			t.Errorf("Load of an unreadable file = %v, want fs.ErrPermission", err)
		}
		want := fmt.Sprintf("cannot read config file %s: permission denied: it belongs to you (%s) but its mode forbids reading it: chmod u+r %s", p, me.Username, p)
		if err == nil || err.Error() != want {
			t.Errorf("Load of an unreadable file = %v, want:\n%s", err, want)
		}
	}

	denied := &fs.PathError{Op: "open", Path: p, Err: fs.ErrPermission}
	tests := []struct {
		path, want string
	}{
		{p, "cannot read config file " + p + ": permission denied: it belongs to you (" + me.Username + ") but its mode forbids reading it: chmod u+r " + p},
		{filepath.Join(dir, "hidden", "config.yaml"), "cannot read config file " + filepath.Join(dir, "hidden", "config.yaml") +
			": permission denied: run vectord as a user that may read it, such as the user the service runs as: sudo -u vectord"},
	}
	// As root, a file of another user shows the advice to run as that one.
	if other, err := user.LookupId("65534"); err == nil && os.Geteuid() == 0 {
		q := filepath.Join(dir, "theirs.yaml")
		writeFiles(t, dir, map[string]string{"theirs.yaml": ""})
		if err := os.Chown(q, 65534, -1); err != nil {
			t.Fatal(err)
		}
		tests = append(tests, struct{ path, want string }{q, "cannot read config file " + q + ": permission denied: it belongs to user " +
			other.Username + ": run vectord as that user, for example with sudo -u " + other.Username})
	}
	for _, tt := range tests {
		denied.Path = tt.path
		err := fileError(tt.path, denied)
		if err.Error() != tt.want {
			t.Errorf("fileError(%s, permission denied) = %v, want:\n%s", tt.path, err, tt.want)
		}
		if !errors.Is(err, fs.ErrPermission) {
			t.Errorf("fileError(%s, permission denied) does not match fs.ErrPermission", tt.path)
		}
	}
}
