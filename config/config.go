// Package config loads, expands, defaults and validates vectord's YAML
// configuration.
//
// # Reading
//
// [Load] reads a file and calls [Parse], then reads the secrets named by
// *_file keys. [Parse] has no side effects: it creates no files, reads
// none and logs nothing.
//
// # Variables
//
// In every scalar value (not in keys or comments), ${VAR} is replaced by
// the environment variable VAR and ${VAR:-default} by VAR, or by default
// when VAR is unset or empty. A variable name is letters, digits and
// underscores, not starting with a digit; the default is literal text up
// to the first "}". $$ stands for a single $, and a $ followed by anything
// else is kept as written. References work anywhere a value does, quoted
// or not, in block or flow style ({ keep_last: ${KEEP_LAST:-7} }). They
// are expanded in the parsed values, not in the text, so a variable's value
// may hold any character (#, ": ", quotes) without changing the YAML
// around it, and line numbers stay right. A $$ inside a flow collection
// needs quotes.
//
// # Values
//
// Durations are Go durations (30s, 90m, 720h, 1h30m) or a number of days
// followed by an optional Go duration (7d, 1d12h). Schedules use the
// standard cron format of github.com/robfig/cron/v3: five fields,
// descriptors such as @daily, or @every 90s; the time zone comes from the
// timezone key, never from a CRON_TZ= prefix. Names are
// [a-z0-9][a-z0-9_-]*. Vector ids are [A-Za-z0-9][A-Za-z0-9._-]*.
//
// # Errors
//
// Parse and Load report every problem they find, not only the first: the
// error they return is an errors.Join of [*Error] values in line order,
// one per line of its message. Use errors.As to reach the first one. An
// error about an environment names the site and the environment after
// their key path: "sites[0].environments[1] (acme/production).schedule:
// line 14: ...".
package config

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Config is a whole configuration file, defaults applied.
type Config struct {
	API             API
	StateDir        string // holds catalog.db
	Log             Log
	Storage         Storage
	Server          Server
	Concurrency     Concurrency
	ShutdownTimeout time.Duration
	Defaults        Defaults
	Sites           []Site
}

// API configures the Vector API client.
type API struct {
	BaseURL   string // without a trailing slash
	Token     string // from token, or read from TokenFile by Load
	TokenFile string // as written by Parse; made absolute by Load
	Routes    string // "documented" or "openapi"

	Timeout         time.Duration // per HTTP request
	PollInterval    time.Duration // first export-status poll
	PollMaxInterval time.Duration // longest wait between polls

	RequestsPerMinute   int
	DBOperationsPerHour int // export and import requests
}

// Log configures the process log.
type Log struct {
	// Format is "logfmt" or "json". Under journald, which the logger
	// detects, the journal's format is used whatever this says.
	Format string
	Level  string // "debug", "info", "warn" or "error"
}

// Storage configures where backups are stored. Local and S3 are nil when
// their section is absent; when the whole storage section is absent, Local
// is <state_dir>/backups.
type Storage struct {
	Compression string // "zstd", "gzip" or "none"
	Local       *Local
	S3          *S3
}

// Local is a storage target on the local file system.
type Local struct {
	Path string // defaults to <state_dir>/backups
}

// S3 is an S3-compatible storage target.
type S3 struct {
	Endpoint string // "" when not set
	Region   string
	Bucket   string
	// Prefix is "" or ends with "/" and does not start with one: "vectord"
	// becomes "vectord/".
	Prefix string

	AccessKeyID         string // from access_key_id, or read from AccessKeyIDFile by Load
	AccessKeyIDFile     string
	SecretAccessKey     string // from secret_access_key, or read from SecretAccessKeyFile by Load
	SecretAccessKeyFile string

	StorageClass   string
	ForcePathStyle bool
}

// Server configures the HTTP listener.
type Server struct {
	Listen    string // host:port
	TokenFile string // control token file; required unless Listen is loopback
	Token     string // read from TokenFile by Load; never set by Parse
}

// Concurrency bounds work in flight.
type Concurrency struct {
	Exports   int // exports in flight at the API
	Downloads int // downloads at once
}

// Defaults are inherited by every environment.
type Defaults struct {
	Schedule      string // cron expression
	Timezone      string // IANA name, e.g. "UTC" or "Europe/Berlin"
	Jitter        time.Duration
	ExportTimeout time.Duration
	// Source is how backups are made (CONTRACT §9): "export", "backup" or
	// "mirror"; "" picks per environment (see Environment.Source).
	Source    string
	Retention Retention
}

// Retention is a retention policy (CONTRACT §5).
type Retention struct {
	KeepLast      int
	KeepHourly    int
	KeepDaily     int
	KeepWeekly    int
	KeepMonthly   int
	KeepYearly    int
	KeepWithin    time.Duration
	KeepPreImport time.Duration // pre-import snapshots, by age
}

// RetentionOverride holds the retention keys an environment sets; nil
// fields are inherited from the defaults.
type RetentionOverride struct {
	KeepLast      *int
	KeepHourly    *int
	KeepDaily     *int
	KeepWeekly    *int
	KeepMonthly   *int
	KeepYearly    *int
	KeepWithin    *time.Duration
	KeepPreImport *time.Duration
}

// Site is one Vector site, as written.
type Site struct {
	Name         string // configured name
	ID           string // Vector site id
	Environments []EnvironmentConfig
}

// EnvironmentConfig is one environment of a site, as written: empty
// strings and nil pointers are inherited from [Defaults].
type EnvironmentConfig struct {
	Name          string
	ID            string // Vector environment id; "" is the site's development database
	Schedule      string
	Timezone      string
	Jitter        *time.Duration
	ExportTimeout *time.Duration
	Source        string // "" inherits defaults.source
	Retention     *RetentionOverride
}

// Environment is the resolved view of one environment: names, ids and
// every setting with the defaults merged in.
type Environment struct {
	Site          string // configured site name
	Name          string // configured environment name
	SiteID        string // Vector site id
	EnvironmentID string // Vector environment id; "" is the development database

	Schedule string
	// Cron is Schedule parsed; its Next works in Location whatever the
	// location of the time it is given.
	Cron          cron.Schedule
	Location      *time.Location
	Jitter        time.Duration
	ExportTimeout time.Duration
	Retention     Retention
	// Source is how its backups are made: SourceExport, SourceBackup or
	// SourceMirror (CONTRACT §9). Unset, it is backup for an environment
	// with an id under api.routes: openapi, else export.
	Source string
}

// Sources of backups (CONTRACT §9).
const (
	SourceExport = "export"
	SourceBackup = "backup"
	SourceMirror = "mirror"
)

// DevelopmentName is the name of the environment a site without
// environments gets, and the one chosen when a site has several.
const DevelopmentName = "development"

// Default returns the documented defaults: everything but the API token
// and the sites.
func Default() Config {
	return Config{
		API: API{
			BaseURL:             "https://api.builtfast.com/api/v1/vector",
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
		},
		Server:          Server{Listen: "127.0.0.1:9469"},
		Concurrency:     Concurrency{Exports: 4, Downloads: 2},
		ShutdownTimeout: 5 * time.Minute,
		Defaults: Defaults{
			Schedule:      "0 2 * * *",
			Timezone:      "UTC",
			Jitter:        30 * time.Minute,
			ExportTimeout: 2 * time.Hour,
			Retention: Retention{
				KeepLast:      7,
				KeepDaily:     14,
				KeepWeekly:    8,
				KeepMonthly:   12,
				KeepPreImport: 720 * time.Hour,
			},
		},
	}
}

// Environments returns every configured environment, resolved, in file
// order. A site without environments has one, named "development", with
// no environment id.
//
// It expects a valid Config (from Parse, Load or Validate): an environment
// whose schedule or time zone does not parse has a nil Cron or Location.
func (c *Config) Environments() []Environment {
	var envs []Environment
	for _, s := range c.Sites {
		for _, e := range siteEnvironments(s) {
			envs = append(envs, c.resolve(s, e))
		}
	}
	return envs
}

// Environment returns one resolved environment. With env "", it returns
// the site's only environment, else its "development" one. Every error it
// returns is a usage error that names the configured choices: an unknown
// site, an unknown environment, or env "" for a site with several
// environments and none named "development".
func (c *Config) Environment(site, env string) (Environment, error) {
	i := slices.IndexFunc(c.Sites, func(s Site) bool { return s.Name == site })
	if i < 0 {
		if len(c.Sites) == 0 {
			return Environment{}, fmt.Errorf("unknown site %q: no sites are configured", site)
		}
		names := make([]string, len(c.Sites))
		for j, s := range c.Sites {
			names[j] = s.Name
		}
		return Environment{}, fmt.Errorf("unknown site %q (configured: %s)", site, strings.Join(names, ", "))
	}
	s := c.Sites[i]
	envs := siteEnvironments(s)
	names := make([]string, len(envs))
	for j, e := range envs {
		names[j] = e.Name
	}
	if env == "" {
		if len(envs) == 1 {
			return c.resolve(s, envs[0]), nil
		}
		env = DevelopmentName
		if !slices.Contains(names, env) {
			return Environment{}, fmt.Errorf("site %s has %d environments and none is named %s: choose one of %s",
				s.Name, len(envs), DevelopmentName, strings.Join(names, ", "))
		}
	}
	j := slices.Index(names, env)
	if j < 0 {
		return Environment{}, fmt.Errorf("site %s has no environment %q (configured: %s)", s.Name, env, strings.Join(names, ", "))
	}
	return c.resolve(s, envs[j]), nil
}

// siteEnvironments returns a site's environments as written, or the
// implicit development environment.
func siteEnvironments(s Site) []EnvironmentConfig {
	if len(s.Environments) == 0 {
		return []EnvironmentConfig{{Name: DevelopmentName}}
	}
	return s.Environments
}

// resolve merges the defaults into one environment.
func (c *Config) resolve(s Site, e EnvironmentConfig) Environment {
	d := c.Defaults
	r := Environment{
		Site:          s.Name,
		Name:          e.Name,
		SiteID:        s.ID,
		EnvironmentID: e.ID,
		Schedule:      cmpOr(e.Schedule, d.Schedule),
		Jitter:        deref(e.Jitter, d.Jitter),
		ExportTimeout: deref(e.ExportTimeout, d.ExportTimeout),
		Source:        cmpOr(e.Source, d.Source),
		Retention:     d.Retention.merge(e.Retention),
	}
	if r.Source == "" {
		// The openapi route set has no environment export: an
		// environment database is backed up through the Backups API.
		r.Source = SourceExport
		if c.API.Routes == "openapi" && e.ID != "" {
			r.Source = SourceBackup
		}
	}
	tz := cmpOr(e.Timezone, d.Timezone)
	if loc, err := loadLocation(tz); err == nil {
		r.Location = loc
		if sched, err := parseSchedule(r.Schedule, loc); err == nil {
			r.Cron = sched
		}
	}
	return r
}

// merge returns r with the keys o sets replaced.
func (r Retention) merge(o *RetentionOverride) Retention {
	if o == nil {
		return r
	}
	r.KeepLast = deref(o.KeepLast, r.KeepLast)
	r.KeepHourly = deref(o.KeepHourly, r.KeepHourly)
	r.KeepDaily = deref(o.KeepDaily, r.KeepDaily)
	r.KeepWeekly = deref(o.KeepWeekly, r.KeepWeekly)
	r.KeepMonthly = deref(o.KeepMonthly, r.KeepMonthly)
	r.KeepYearly = deref(o.KeepYearly, r.KeepYearly)
	r.KeepWithin = deref(o.KeepWithin, r.KeepWithin)
	r.KeepPreImport = deref(o.KeepPreImport, r.KeepPreImport)
	return r
}

func deref[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Error is one problem in a configuration file.
type Error struct {
	File string // the name given to Parse, or the path given to Load
	Path string // key path, e.g. "sites[1].environments[0].schedule"; "" for the whole file
	// Names are the configured names of the site and the environment that
	// Path is under, "acme/production", when Path is under
	// sites[i].environments[j] and both names are valid; else "".
	Names string
	Line  int // 1-based; 0 when unknown
	Msg   string
}

// Error formats e as "config.yaml: sites[1].schedule: line 14: message",
// leaving out the parts that are empty. Names follow the environment's
// part of the path: "sites[0].environments[1] (acme/production).schedule".
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteString(": ")
	}
	if e.Path != "" {
		path := e.Path
		if loc := envPathRE.FindStringIndex(path); loc != nil && e.Names != "" {
			path = path[:loc[1]] + " (" + e.Names + ")" + path[loc[1]:]
		}
		b.WriteString(path)
		b.WriteString(": ")
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	b.WriteString(e.Msg)
	return b.String()
}

// envPathRE matches the part of a key path that names an environment.
var envPathRE = regexp.MustCompile(`^sites\[(\d+)\]\.environments\[(\d+)\]`)

// nameErrors sets the Names of the errors about an environment of c.
func nameErrors(c *Config, errs []*Error) {
	for _, e := range errs {
		m := envPathRE.FindStringSubmatch(e.Path)
		if m == nil {
			continue
		}
		i, _ := strconv.Atoi(m[1])
		j, _ := strconv.Atoi(m[2])
		if i >= len(c.Sites) || j >= len(c.Sites[i].Environments) {
			continue
		}
		site, env := c.Sites[i].Name, c.Sites[i].Environments[j].Name
		if checkName(site) == nil && checkName(env) == nil {
			e.Names = site + "/" + env
		}
	}
}

// joinErrors sorts errs by line (unknown lines last, otherwise stable) and
// joins them; nil when there are none.
func joinErrors(errs []*Error) error {
	if len(errs) == 0 {
		return nil
	}
	slices.SortStableFunc(errs, func(a, b *Error) int {
		switch {
		case a.Line == b.Line:
			return 0
		case a.Line == 0:
			return 1
		case b.Line == 0:
			return -1
		case a.Line < b.Line:
			return -1
		default:
			return 1
		}
	})
	out := make([]error, len(errs))
	for i, e := range errs {
		out[i] = e
	}
	return errors.Join(out...)
}
