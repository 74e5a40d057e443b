package config

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

var (
	nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
	idRE   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
)

const maxIDLen = 128

// parseDuration parses a Go duration, or a number of days followed by an
// optional Go duration ("7d", "1d12h").
func parseDuration(s string) (time.Duration, error) {
	bad := fmt.Errorf("invalid duration %q: use a Go duration such as 30s, 90m or 720h, or days such as 7d", s)
	i := 0
	for i < len(s) && '0' <= s[i] && s[i] <= '9' {
		i++
	}
	if i == 0 || i == len(s) || s[i] != 'd' {
		d, err := time.ParseDuration(s)
		if err != nil {
			return 0, bad
		}
		return d, nil
	}
	days, err := strconv.ParseInt(s[:i], 10, 64)
	if err != nil || days > int64(math.MaxInt64/int64(24*time.Hour)) {
		return 0, fmt.Errorf("invalid duration %q: too long", s)
	}
	d := time.Duration(days) * 24 * time.Hour
	if rest := s[i+1:]; rest != "" {
		if rest[0] == '-' || rest[0] == '+' {
			return 0, bad
		}
		r, err := time.ParseDuration(rest)
		if err != nil {
			return 0, bad
		}
		if d > math.MaxInt64-r {
			return 0, fmt.Errorf("invalid duration %q: too long", s)
		}
		d += r
	}
	return d, nil
}

// parseSchedule parses a cron expression whose times are in loc.
func parseSchedule(spec string, loc *time.Location) (cron.Schedule, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil, errors.New("empty")
	}
	if strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=") {
		return nil, errors.New("a time zone prefix is not allowed here: set the timezone key instead")
	}
	if rest, ok := strings.CutPrefix(spec, "@every "); ok {
		d, err := time.ParseDuration(strings.TrimSpace(rest))
		if err != nil {
			return nil, fmt.Errorf("invalid @every duration %q: use a Go duration such as 90s or 6h", strings.TrimSpace(rest))
		}
		if d < time.Second {
			return nil, fmt.Errorf("@every %s: the interval must be at least 1s", d)
		}
	}
	// The prefix makes the schedule compute its times in loc; without it,
	// robfig/cron uses the machine's local zone.
	return cron.ParseStandard("CRON_TZ=" + loc.String() + " " + spec)
}

// loadLocation loads an IANA time zone; "" is refused rather than taken
// as UTC.
func loadLocation(name string) (*time.Location, error) {
	if name == "" {
		return nil, errors.New("empty")
	}
	if strings.ContainsAny(name, " \t\r\n") {
		return nil, fmt.Errorf("unknown time zone %q", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q: use an IANA name such as UTC or Europe/Berlin", name)
	}
	return loc, nil
}

// checkName reports whether s is a valid site or environment name.
func checkName(s string) error {
	if !nameRE.MatchString(s) {
		return fmt.Errorf("invalid name %q: use lowercase letters, digits, _ and -, starting with a letter or digit", s)
	}
	return nil
}

// checkID reports whether s can be a Vector id in a URL path.
func checkID(s string) error {
	if len(s) > maxIDLen || !idRE.MatchString(s) {
		return fmt.Errorf("invalid Vector id %q: use letters, digits, '.', '_' and '-'", s)
	}
	return nil
}
