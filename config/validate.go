package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Validate checks a Config built in code, as Parse checks a file: it
// returns nil, or an error joining one [*Error] per problem, with key
// paths but no lines. Parse and Load have already validated what they
// return.
func (c *Config) Validate() error {
	k := &checker{state: &state{}}
	k.validate(c)
	nameErrors(c, k.errs)
	return joinErrors(k.errs)
}

// checker validates a decoded Config. Its state, when it comes from a
// file, tells which keys were written and which variables were unset.
type checker struct {
	*state
	errs []*Error
}

func (k *checker) add(path, format string, args ...any) {
	for p := path; p != ""; p = parentPath(p) {
		if k.bad[p] {
			return
		}
	}
	k.errs = append(k.errs, &Error{Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (k *checker) written(path string) bool {
	_, ok := k.lines[path]
	return ok
}

// empty describes a required value that has none: "missing" when the key
// is not written, else "empty", naming the variables that expanded to
// nothing.
func (k *checker) empty(path string) string {
	if !k.written(path) {
		return "missing"
	}
	return "empty" + k.hint(path)
}

func (k *checker) validate(c *Config) {
	k.api(c)
	if c.StateDir == "" {
		k.add("state_dir", "%s", k.empty("state_dir"))
	}
	k.log(c.Log)
	k.storage(c)
	k.server(c)
	if c.Concurrency.Exports < 1 {
		k.add("concurrency.exports", "must be at least 1, found %d", c.Concurrency.Exports)
	}
	if c.Concurrency.Downloads < 1 {
		k.add("concurrency.downloads", "must be at least 1, found %d", c.Concurrency.Downloads)
	}
	k.nonNegative("shutdown_timeout", c.ShutdownTimeout)

	d := c.Defaults
	loc := k.timezone("defaults.timezone", d.Timezone)
	k.schedule("defaults.schedule", d.Schedule, loc)
	k.nonNegative("defaults.jitter", d.Jitter)
	k.positive("defaults.export_timeout", d.ExportTimeout)
	if d.Source != "" || k.written("defaults.source") {
		k.source("defaults.source", d.Source)
	}
	r := d.Retention
	k.retention("defaults.retention", &RetentionOverride{
		KeepLast: &r.KeepLast, KeepHourly: &r.KeepHourly, KeepDaily: &r.KeepDaily,
		KeepWeekly: &r.KeepWeekly, KeepMonthly: &r.KeepMonthly, KeepYearly: &r.KeepYearly,
		KeepWithin: &r.KeepWithin, KeepPreImport: &r.KeepPreImport,
	})

	k.sites(c, loc)
}

func (k *checker) api(c *Config) {
	a := c.API
	if a.BaseURL == "" {
		k.add("api.base_url", "%s", k.empty("api.base_url"))
	} else if err := checkURL(a.BaseURL, exampleBaseURL); err != nil {
		k.add("api.base_url", "%v", err)
	}
	k.secret("api.token", a.Token, "api.token_file", a.TokenFile)
	switch a.Routes {
	case "documented", "openapi":
	default:
		k.add("api.routes", "unknown route set %q: use documented or openapi", a.Routes)
	}
	k.positive("api.timeout", a.Timeout)
	k.positive("api.poll_interval", a.PollInterval)
	k.positive("api.poll_max_interval", a.PollMaxInterval)
	if a.PollInterval > 0 && a.PollMaxInterval > 0 && a.PollInterval > a.PollMaxInterval {
		k.add("api.poll_interval", "%s is longer than api.poll_max_interval (%s)", a.PollInterval, a.PollMaxInterval)
	}
	if a.RequestsPerMinute < 1 {
		k.add("api.requests_per_minute", "must be at least 1, found %d", a.RequestsPerMinute)
	}
	if a.DBOperationsPerHour < 1 {
		k.add("api.db_operations_per_hour", "must be at least 1, found %d", a.DBOperationsPerHour)
	}
}

// secret checks a required secret given inline (key) or in a file
// (fileKey). Messages never quote the secret.
func (k *checker) secret(key, value, fileKey, file string) {
	switch {
	case value != "" && file != "":
		k.add(key, "%s", k.bothSet(key, fileKey))
	case value != "":
		if !isToken(value) {
			k.add(key, "contains whitespace or control characters")
		}
	case file != "":
	case k.written(fileKey):
		k.add(fileKey, "%s", k.empty(fileKey))
	case k.written(key):
		k.add(key, "%s", k.empty(key))
	default:
		k.add(key, "missing: set %s or %s", key, fileKey)
	}
}

// bothSet explains how to fix a secret set both inline (key) and in a
// file (fileKey). A key whose value comes from exported variables counts
// as set, which the file alone does not show: the message says so.
func (k *checker) bothSet(key, fileKey string) string {
	fileAt := ""
	if l, ok := k.lines[fileKey]; ok {
		fileAt = fmt.Sprintf(" (line %d)", l)
	}
	vars := k.set[key]
	if len(vars) == 0 {
		return fmt.Sprintf("%s and %s are both set: remove %s to use the file named by %s%s, or remove %s to use the inline value",
			key, fileKey, key, fileKey, fileAt, fileKey)
	}
	refs := make([]string, len(vars))
	uses := make([]string, len(vars))
	for i, v := range vars {
		refs[i] = "${" + v + "}"
		uses[i] = "$" + v
	}
	verb := "is"
	if len(vars) > 1 {
		verb = "are"
	}
	return fmt.Sprintf("%s and %s are both set: %s expands %s, and %s %s exported, so it counts as set; remove %s to use the file named by %s%s, or remove %s to use %s",
		key, fileKey, key, strings.Join(refs, " and "), strings.Join(vars, " and "), verb, key, fileKey, fileAt, fileKey, strings.Join(uses, " and "))
}

// isToken reports whether a secret is non-empty printable ASCII without
// spaces, as HTTP headers and signatures need.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

func (k *checker) log(l Log) {
	k.oneOf("log.format", l.Format, "log format", "logfmt", "json")
	k.oneOf("log.level", l.Level, "log level", "debug", "info", "warn", "error")
}

// oneOf checks that the value at path is one of valid, and suggests the
// one meant when it differs only in case or length ("warning", "INFO").
func (k *checker) oneOf(path, value, what string, valid ...string) {
	if value == "" {
		k.add(path, "%s", k.empty(path))
		return
	}
	if slices.Contains(valid, value) {
		return
	}
	hint := ""
	for _, v := range valid {
		lower := strings.ToLower(value)
		if lower == v || strings.HasPrefix(lower, v) || strings.HasPrefix(v, lower) {
			hint = fmt.Sprintf(" (did you mean %s?)", v)
			break
		}
	}
	list := strings.Join(valid[:len(valid)-1], ", ") + " or " + valid[len(valid)-1]
	k.add(path, "unknown %s %q: use %s%s", what, value, list, hint)
}

func (k *checker) storage(c *Config) {
	s := c.Storage
	switch s.Compression {
	case "zstd", "gzip", "none":
	default:
		k.add("storage.compression", "unknown compression %q: use zstd, gzip or none", s.Compression)
	}
	if s.Local == nil && s.S3 == nil {
		k.add("storage", "no storage target: configure storage.local, storage.s3 or both")
	}
	if l := s.Local; l != nil && l.Path == "" && (c.StateDir != "" || k.written("storage.local.path")) {
		k.add("storage.local.path", "%s", k.empty("storage.local.path"))
	}
	if s3 := s.S3; s3 != nil {
		switch {
		case s3.Bucket == "":
			k.add("storage.s3.bucket", "%s", k.empty("storage.s3.bucket"))
		case strings.ContainsAny(s3.Bucket, "/ \t\r\n"):
			k.add("storage.s3.bucket", "invalid bucket name %q", s3.Bucket)
		}
		if s3.Endpoint != "" {
			if err := checkURL(s3.Endpoint, exampleS3Endpoint); err != nil {
				k.add("storage.s3.endpoint", "%v", err)
			}
		}
		k.secret("storage.s3.access_key_id", s3.AccessKeyID, "storage.s3.access_key_id_file", s3.AccessKeyIDFile)
		k.secret("storage.s3.secret_access_key", s3.SecretAccessKey, "storage.s3.secret_access_key_file", s3.SecretAccessKeyFile)
	}
}

// Examples of URLs, shown when one is malformed.
const (
	exampleBaseURL    = "https://api.builtfast.com/api/v1/vector"
	exampleS3Endpoint = "https://s3.us-east-1.amazonaws.com"
)

// checkURL accepts an absolute http or https URL without credentials,
// query or fragment. Its errors say what is wrong and how to write the URL
// (example is the form shown when no better one can be derived), and never
// quote credentials, a query string or a fragment.
func checkURL(s, example string) error {
	// What the messages quote: s without its query and fragment, which
	// may hold a signature or a token, marked "?..." when it had one.
	bare, _, _ := strings.Cut(s, "#")
	bare, _, hasQuery := strings.Cut(bare, "?")
	shown := bare
	switch {
	case hasQuery:
		shown += "?..."
	case len(bare) < len(s):
		shown += "#..."
	}

	scheme, _, hasScheme := strings.Cut(bare, "://")
	// The authority is looked at in s, whole: a password may hold a ? or
	// a # that would leave a part of it in bare.
	rest := s
	if _, r, ok := strings.Cut(s, "://"); ok && hasScheme {
		rest = r
	}
	if authority, _, _ := strings.Cut(rest, "/"); strings.Contains(authority, "@") {
		return errors.New("the URL must not hold credentials")
	}
	if !hasScheme {
		lower := strings.ToLower(bare)
		var fix string
		switch {
		case strings.HasPrefix(lower, "http:") || strings.HasPrefix(lower, "https:"):
			sch, path, _ := strings.Cut(bare, ":")
			if fix = sch + "://" + strings.TrimLeft(path, "/"); usableURL(fix) {
				return fmt.Errorf("invalid URL %q: write two slashes after the scheme: %s", shown, fix)
			}
			return fmt.Errorf("invalid URL %q: write two slashes after the scheme, as in %s", shown, example)
		case strings.HasPrefix(bare, "//"):
			fix = "https:" + bare
		case strings.HasPrefix(bare, "/"):
			return fmt.Errorf("invalid URL %q: a path without a scheme and host: expected a form such as %s", shown, example)
		default:
			fix = "https://" + bare
		}
		if usableURL(fix) {
			return fmt.Errorf("invalid URL %q: the scheme is missing: write %s", shown, fix)
		}
		return fmt.Errorf("invalid URL %q: the scheme is missing: expected a form such as %s", shown, example)
	}

	u, err := url.Parse(bare)
	if err != nil {
		reason := "malformed"
		var ue *url.Error
		if errors.As(err, &ue) {
			reason = ue.Err.Error()
		}
		return fmt.Errorf("invalid URL %q: %s: expected a form such as %s", shown, reason, example)
	}
	switch {
	case u.User != nil:
		return errors.New("the URL must not hold credentials")
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("invalid URL %q: expected http:// or https://", shown)
	case u.Host == "":
		return fmt.Errorf("invalid URL %q: no host after %s://: expected a form such as %s", shown, scheme, example)
	case hasQuery:
		return fmt.Errorf("invalid URL %q: remove the query string: write %s", shown, bare)
	case len(bare) < len(s):
		return fmt.Errorf("invalid URL %q: remove the fragment: write %s", shown, bare)
	}
	return nil
}

// usableURL reports whether s is an http or https URL with a host.
func usableURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.User == nil
}

func (k *checker) server(c *Config) {
	s := c.Server
	host, port, err := net.SplitHostPort(s.Listen)
	if err != nil {
		if s.Listen == "" {
			k.add("server.listen", "%s", k.empty("server.listen"))
		} else {
			k.add("server.listen", "expected host:port, found %q", s.Listen)
		}
		return
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		k.add("server.listen", "invalid port %q in %q", port, s.Listen)
	}
	switch {
	case s.TokenFile != "":
	case k.written("server.token_file"):
		k.add("server.token_file", "%s", k.empty("server.token_file"))
	case !isLoopback(host):
		k.add("server.token_file", "missing: required because server.listen %q accepts connections from other hosts", s.Listen)
	}
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (k *checker) positive(path string, d time.Duration) {
	if d <= 0 {
		k.add(path, "must be positive, found %s", d)
	}
}

func (k *checker) nonNegative(path string, d time.Duration) {
	if d < 0 {
		k.add(path, "must not be negative, found %s", d)
	}
}

// timezone checks a time zone and returns it, or UTC when it is invalid
// so that schedules can still be checked.
func (k *checker) timezone(path, tz string) *time.Location {
	loc, err := loadLocation(tz)
	if err != nil {
		if tz == "" {
			k.add(path, "%s", k.empty(path))
		} else {
			k.add(path, "%v", err)
		}
		return time.UTC
	}
	return loc
}

func (k *checker) schedule(path, spec string, loc *time.Location) {
	if strings.TrimSpace(spec) == "" {
		k.add(path, "%s", k.empty(path))
		return
	}
	if _, err := parseSchedule(spec, loc); err != nil {
		k.add(path, "%v", err)
	}
}

func (k *checker) retention(path string, r *RetentionOverride) {
	if r == nil {
		return
	}
	for _, n := range []struct {
		key string
		v   *int
	}{
		{"keep_last", r.KeepLast}, {"keep_hourly", r.KeepHourly}, {"keep_daily", r.KeepDaily},
		{"keep_weekly", r.KeepWeekly}, {"keep_monthly", r.KeepMonthly}, {"keep_yearly", r.KeepYearly},
	} {
		if n.v != nil && *n.v < 0 {
			k.add(path+"."+n.key, "must not be negative, found %d", *n.v)
		}
	}
	if r.KeepWithin != nil {
		k.nonNegative(path+".keep_within", *r.KeepWithin)
	}
	if r.KeepPreImport != nil {
		k.nonNegative(path+".keep_pre_import", *r.KeepPreImport)
	}
}

func (k *checker) sites(c *Config, defaultLoc *time.Location) {
	if len(c.Sites) == 0 {
		k.add("sites", "no sites configured: nothing to back up")
		return
	}
	siteNames := map[string]string{} // name → path of its first use
	siteIDs := map[string]string{}
	envIDs := map[string]string{}
	for i, s := range c.Sites {
		sp := fmt.Sprintf("sites[%d]", i)
		k.name(sp+".name", s.Name, siteNames, "site name")
		k.id(sp+".id", s.ID, siteIDs, "Vector site id")

		envNames := map[string]string{}
		devEnv := ""
		for j, e := range s.Environments {
			ep := fmt.Sprintf("%s.environments[%d]", sp, j)
			k.name(ep+".name", e.Name, envNames, "environment name")
			switch {
			case e.ID == "" && k.written(ep+".id"):
				k.add(ep+".id", "%s", k.empty(ep+".id"))
			case e.ID == "" && devEnv != "":
				k.add(ep, "no id: the site's development database is already environment %q", devEnv)
			case e.ID == "":
				devEnv = e.Name
			default:
				k.id(ep+".id", e.ID, envIDs, "Vector environment id")
				if c.API.Routes == "openapi" && cmpOr(e.Source, c.Defaults.Source) == SourceExport {
					k.add(ep+".source", "source export is not served for environment databases by api.routes: openapi (it has no environment export routes): use source: backup or mirror")
				}
			}
			loc := defaultLoc
			if e.Timezone != "" || k.written(ep+".timezone") {
				loc = k.timezone(ep+".timezone", e.Timezone)
			}
			if e.Schedule != "" || k.written(ep+".schedule") {
				k.schedule(ep+".schedule", e.Schedule, loc)
			}
			if e.Jitter != nil {
				k.nonNegative(ep+".jitter", *e.Jitter)
			}
			if e.ExportTimeout != nil {
				k.positive(ep+".export_timeout", *e.ExportTimeout)
			}
			if e.Source != "" || k.written(ep+".source") {
				k.source(ep+".source", e.Source)
			}
			k.retention(ep+".retention", e.Retention)
		}
	}
}

// source checks a source name (CONTRACT §9).
func (k *checker) source(path, s string) {
	switch s {
	case SourceExport, SourceBackup, SourceMirror:
	default:
		k.add(path, "unknown source %q: use export, backup or mirror", s)
	}
}

// name checks a site or environment name and that it is not in seen.
func (k *checker) name(path, name string, seen map[string]string, what string) {
	if name == "" {
		k.add(path, "%s", k.empty(path))
		return
	}
	if err := checkName(name); err != nil {
		k.add(path, "%v", err)
		return
	}
	if first, ok := seen[name]; ok {
		k.add(path, "duplicate %s %q%s", what, name, k.firstAt(first))
		return
	}
	seen[name] = path
}

// id checks a Vector id and that it is not in seen.
func (k *checker) id(path, id string, seen map[string]string, what string) {
	if id == "" {
		k.add(path, "%s", k.empty(path))
		return
	}
	if err := checkID(id); err != nil {
		k.add(path, "%v", err)
		return
	}
	if first, ok := seen[id]; ok {
		k.add(path, "duplicate %s %q%s", what, id, k.firstAt(first))
		return
	}
	seen[id] = path
}

func (k *checker) firstAt(path string) string {
	if l := k.line(path); l > 0 {
		return fmt.Sprintf(" (first at %s, line %d)", path, l)
	}
	return fmt.Sprintf(" (first at %s)", path)
}
