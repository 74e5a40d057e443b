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
	sched, err := cron.ParseStandard("CRON_TZ=" + loc.String() + " " + spec)
	if err != nil {
		return nil, cronError(spec, err)
	}
	return sched, nil
}

// cronFields are the five fields of a standard cron expression.
var cronFields = [5]struct {
	name     string
	min, max int
	named    string // an example name the field accepts, or ""
}{
	{"minute", 0, 59, ""},
	{"hour", 0, 23, ""},
	{"day of month", 1, 31, ""},
	{"month", 1, 12, "jan"},
	{"day of week", 0, 6, "mon"},
}

const cronRanges = "minute 0-59, hour 0-23, day of month 1-31, month 1-12, day of week 0-6"

var (
	cronAboveRE    = regexp.MustCompile(`^end of range \((\d+)\) above maximum \((\d+)\)`)
	cronBelowRE    = regexp.MustCompile(`^beginning of range \((\d+)\) below minimum \((\d+)\)`)
	cronBackwardRE = regexp.MustCompile(`^beginning of range \((\d+)\) beyond end of range \((\d+)\): (.*)$`)
	cronNumberRE   = regexp.MustCompile(`^failed to parse int from (.*?): `)
)

// cronError rewrites an error of robfig/cron for a five-field expression
// so that it names the field at fault and the valid ranges; other errors
// (the number of fields, descriptors) are returned as they are.
func cronError(spec string, err error) error {
	fields := strings.Fields(spec)
	if strings.HasPrefix(spec, "@") || len(fields) != len(cronFields) {
		return err
	}
	for i, f := range fields {
		// Each field parses on its own: try it with the others "*".
		probe := []string{"*", "*", "*", "*", "*"}
		probe[i] = f
		_, ferr := cron.ParseStandard(strings.Join(probe, " "))
		if ferr == nil {
			continue
		}
		return fmt.Errorf("%q: %s field: %s (%s)", spec, cronFields[i].name, cronProblem(i, f, ferr.Error()), cronRanges)
	}
	return err
}

// cronProblem says what is wrong with field i, written f, given the
// message robfig/cron has for it.
func cronProblem(i int, f, msg string) string {
	fd := cronFields[i]
	if m := cronAboveRE.FindStringSubmatch(msg); m != nil {
		if i == 4 && m[1] == "7" {
			return "7 is above the maximum 6: Sunday is 0"
		}
		return fmt.Sprintf("%s is above the maximum %s", m[1], m[2])
	}
	if m := cronBelowRE.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("%s is below the minimum %s", m[1], m[2])
	}
	if m := cronBackwardRE.FindStringSubmatch(msg); m != nil {
		start, _ := strconv.Atoi(m[1])
		end, _ := strconv.Atoi(m[2])
		if start > fd.max {
			return fmt.Sprintf("%d is above the maximum %d", start, fd.max)
		}
		return fmt.Sprintf("the range %s ends before it starts: write it as %d-%d,%d-%d", m[3], start, fd.max, fd.min, end)
	}
	if m := cronNumberRE.FindStringSubmatch(msg); m != nil {
		if m[1] == "" {
			return fmt.Sprintf("%q: a number is missing", f)
		}
		if fd.named != "" {
			return fmt.Sprintf("%q is not a number or a name such as %s", m[1], fd.named)
		}
		return fmt.Sprintf("%q is not a number", m[1])
	}
	switch {
	case strings.HasPrefix(msg, "step of range should be a positive number"),
		strings.HasPrefix(msg, "negative number"):
		return fmt.Sprintf("%q: the step after / must be at least 1", f)
	case strings.HasPrefix(msg, "too many hyphens"):
		return fmt.Sprintf("%q: too many hyphens: write a range as 1-5", f)
	case strings.HasPrefix(msg, "too many slashes"):
		return fmt.Sprintf("%q: too many slashes: write a step as */15 or 0-30/10", f)
	}
	return msg
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
