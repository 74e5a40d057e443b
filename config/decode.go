package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// maxNodes bounds the size of a document once its aliases are expanded,
// so that a few lines of aliases cannot make decoding take forever.
const maxNodes = 1_000_000

// Parse decodes, expands, defaults and validates a configuration. name
// is used in error messages only. lookupEnv looks up the variables of
// ${VAR} references; nil means that no variable is set. Parse reads no
// files: the *_file keys are kept as written and the secrets they name
// are left empty (Load reads them).
//
// On any problem Parse returns a nil Config and an error joining one
// [*Error] per problem, in line order.
func Parse(data []byte, name string, lookupEnv func(string) (string, bool)) (*Config, error) {
	c, _, err := parse(data, name, lookupEnv)
	return c, err
}

// state is what parsing learned about the file besides the values: where
// each key was written and which variables were unset.
type state struct {
	lines map[string]int      // key path → line where it was written
	unset map[string][]string // key path → variables that expanded to nothing
	set   map[string][]string // key path → variables that expanded to a value
	bad   map[string]bool     // key paths already reported
}

func parse(data []byte, name string, lookupEnv func(string) (string, bool)) (*Config, *state, error) {
	st := &state{lines: map[string]int{}, unset: map[string][]string{}, set: map[string][]string{}, bad: map[string]bool{}}
	d := &decoder{file: name, lookup: lookupEnv, state: st}
	c := Default()

	root, err := document(d.refs.protect(data))
	if err != nil {
		return nil, nil, d.yamlError(err, data)
	}
	if root != nil {
		if expandedSize(root, map[*yaml.Node]int{}) > maxNodes {
			return nil, nil, joinErrors([]*Error{{File: name, Msg: "document too large once its aliases are expanded, or an alias refers to its own anchor"}})
		}
		d.root(root, &c)
	}
	d.applyDefaults(&c)

	k := &checker{state: st}
	k.validate(&c)
	for _, e := range k.errs {
		e.File = name
		e.Line = st.line(e.Path)
		d.errs = append(d.errs, e)
	}
	nameErrors(&c, d.errs)
	if err := joinErrors(d.errs); err != nil {
		return nil, nil, err
	}
	return &c, st, nil
}

// document parses data as a single YAML document and returns its root
// node, or nil for an empty document.
func document(data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, err
	}
	var next yaml.Node
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		return nil, errors.New("the file holds more than one YAML document")
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	return doc.Content[0], nil
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlError turns an error of the YAML parser into an *Error with a line.
func (d *decoder) yamlError(err error, data []byte) error {
	e := &Error{File: d.file, Msg: err.Error()}
	if m := yamlLineRE.FindStringSubmatch(e.Msg); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		e.Msg = m[2]
	} else {
		e.Msg = strings.TrimPrefix(e.Msg, "yaml: ")
	}
	e.Msg = "invalid YAML: " + e.Msg
	if e.Line > 0 {
		lines := strings.Split(string(data), "\n")
		if e.Line <= len(lines) {
			line := lines[e.Line-1]
			indent := line[:len(line)-len(strings.TrimLeft(line, " \t"))]
			if strings.Contains(indent, "\t") {
				e.Msg += " (indent with spaces, not tabs)"
			}
		}
	}
	return joinErrors([]*Error{e})
}

// expandedSize counts the nodes of n with aliases expanded, saturating
// above maxNodes. A node met again while it is being counted (a cycle)
// counts as too many.
func expandedSize(n *yaml.Node, memo map[*yaml.Node]int) int {
	if n == nil {
		return 0
	}
	if v, ok := memo[n]; ok {
		return v
	}
	memo[n] = maxNodes + 1
	size := 1
	if n.Kind == yaml.AliasNode {
		size += expandedSize(n.Alias, memo)
	}
	for _, c := range n.Content {
		size += expandedSize(c, memo)
		if size > maxNodes {
			size = maxNodes + 1
			break
		}
	}
	size = min(size, maxNodes+1)
	memo[n] = size
	return size
}

// hint names the variables that left the value at path empty, as
// " (is VAR set?)", or returns "".
func (st *state) hint(path string) string {
	switch vars := st.unset[path]; len(vars) {
	case 0:
		return ""
	case 1:
		return fmt.Sprintf(" (is %s set?)", vars[0])
	default:
		return fmt.Sprintf(" (are %s set?)", strings.Join(vars, ", "))
	}
}

func (st *state) line(path string) int {
	for {
		if l, ok := st.lines[path]; ok {
			return l
		}
		if path == "" {
			return 0
		}
		path = parentPath(path)
	}
}

// parentPath returns "a.b" for "a.b.c" and for "a.b[3]", "" for "a".
func parentPath(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

// decoder walks the YAML nodes along the schema, writing into a Config
// and collecting errors. A value it cannot decode leaves the default in
// place and marks its path bad, so validation does not report it twice.
type decoder struct {
	file   string
	lookup func(string) (string, bool)
	refs   refs
	*state
	errs []*Error
}

// field decodes the value of one key at path.
type field func(path string, v *yaml.Node)

// fail reports that the value at path could not be decoded: validation
// stays silent about it and everything below it.
func (d *decoder) fail(path string, line int, format string, args ...any) {
	d.report(path, line, format, args...)
	d.bad[path] = true
}

// report reports a problem that leaves the value at path usable.
func (d *decoder) report(path string, line int, format string, args ...any) {
	d.errs = append(d.errs, &Error{File: d.file, Path: path, Line: line, Msg: fmt.Sprintf(format, args...)})
}

func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return "a single value"
	default:
		return "something else"
	}
}

func isMerge(k *yaml.Node) bool {
	return k.Kind == yaml.ScalarNode && k.Value == "<<" && (k.Tag == "" || k.Tag == "!" || k.ShortTag() == "!!merge")
}

type pair struct{ key, value *yaml.Node }

// pairs returns the key/value pairs of a mapping with merge keys (<<)
// applied: keys written in the mapping win over merged ones, and earlier
// merged mappings over later ones. It reports duplicate keys.
func (d *decoder) pairs(path string, n *yaml.Node) []pair {
	var own, merged []pair
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if isMerge(k) {
			merged = append(merged, d.merge(path, k, resolve(v))...)
			continue
		}
		if k.Kind != yaml.ScalarNode {
			d.report(path, k.Line, "a key must be a plain name, found %s", kindName(k))
			continue
		}
		if first, ok := seen[k.Value]; ok {
			d.fail(joinPath(path, k.Value), k.Line, "duplicate key (first at line %d)", first)
			continue
		}
		seen[k.Value] = k.Line
		own = append(own, pair{k, v})
	}
	for _, p := range merged {
		if _, ok := seen[p.key.Value]; !ok {
			seen[p.key.Value] = p.key.Line
			own = append(own, p)
		}
	}
	return own
}

func (d *decoder) merge(path string, k, v *yaml.Node) []pair {
	switch v.Kind {
	case yaml.MappingNode:
		return d.pairs(path, v)
	case yaml.SequenceNode:
		var out []pair
		for _, m := range v.Content {
			m = resolve(m)
			if m.Kind != yaml.MappingNode {
				d.report(path, k.Line, "a merge key (<<) takes a mapping or a list of mappings")
				continue
			}
			out = append(out, d.pairs(path, m)...)
		}
		return out
	default:
		d.report(path, k.Line, "a merge key (<<) takes a mapping or a list of mappings")
		return nil
	}
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// mapping decodes a mapping whose keys are those of fields; other keys are
// errors. A null value is an empty mapping.
func (d *decoder) mapping(path string, n *yaml.Node, fields map[string]field) {
	n = resolve(n)
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.fail(path, n.Line, "expected a mapping, found %s", kindName(n))
		return
	}
	for _, p := range d.pairs(path, n) {
		key := d.refs.restore(p.key.Value)
		child := joinPath(path, key)
		f, ok := fields[key]
		if !ok {
			d.fail(child, p.key.Line, "unknown key%s", suggest(key, fields))
			continue
		}
		d.lines[child] = p.key.Line
		f(child, p.value)
	}
}

// suggest names the closest known key, or lists them all.
func suggest(key string, fields map[string]field) string {
	known := make([]string, 0, len(fields))
	for k := range fields {
		known = append(known, k)
	}
	slices.Sort(known)
	best, bestDist := "", 3
	for _, k := range known {
		if dist := editDistance(key, k); dist < bestDist {
			best, bestDist = k, dist
		}
	}
	if best != "" {
		return fmt.Sprintf(" (did you mean %s?)", best)
	}
	return fmt.Sprintf(" (known keys: %s)", strings.Join(known, ", "))
}

// editDistance is the Levenshtein distance of two short strings.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// sequence decodes a list, calling each for every item. A null value is
// an empty list.
func (d *decoder) sequence(path string, n *yaml.Node, each func(path string, item *yaml.Node)) {
	n = resolve(n)
	if isNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.fail(path, n.Line, "expected a list, found %s", kindName(n))
		return
	}
	for i, item := range n.Content {
		p := fmt.Sprintf("%s[%d]", path, i)
		d.lines[p] = item.Line
		each(p, item)
	}
}

// scalar returns the expanded text of a single value; null is "". ok is
// false when an error was reported.
func (d *decoder) scalar(path string, n *yaml.Node) (s string, null, ok bool) {
	n = resolve(n)
	if n.Kind != yaml.ScalarNode {
		d.fail(path, n.Line, "expected a single value, found %s", kindName(n))
		return "", false, false
	}
	if isNull(n) {
		return "", true, true
	}
	var set []string
	s, unset, err := expand(d.refs.restore(n.Value), func(name string) (string, bool) {
		if d.lookup == nil {
			return "", false
		}
		v, ok := d.lookup(name)
		if ok && v != "" && !slices.Contains(set, name) {
			set = append(set, name)
		}
		return v, ok
	})
	if err != nil {
		d.fail(path, n.Line, "%v", err)
		return "", false, false
	}
	if len(unset) > 0 {
		d.unset[path] = unset
	}
	if len(set) > 0 {
		d.set[path] = set
	}
	return s, false, true
}

// value decodes a non-string scalar with conv; null is an error.
func value[T any](d *decoder, dst *T, what string, conv func(string) (T, error)) field {
	return func(path string, n *yaml.Node) {
		s, null, ok := d.scalar(path, n)
		if !ok {
			return
		}
		line := resolve(n).Line
		if null {
			d.fail(path, line, "missing value: expected %s", what)
			return
		}
		if s == "" {
			d.fail(path, line, "empty: expected %s%s", what, d.hint(path))
			return
		}
		v, err := conv(s)
		if err != nil {
			d.fail(path, line, "%v", err)
			return
		}
		*dst = v
	}
}

func (d *decoder) str(dst *string) field {
	return func(path string, n *yaml.Node) {
		if s, _, ok := d.scalar(path, n); ok {
			*dst = s
		}
	}
}

func (d *decoder) integer(dst *int) field {
	return value(d, dst, "an integer", func(s string) (int, error) {
		v, err := strconv.Atoi(s)
		if err != nil {
			return 0, fmt.Errorf("expected an integer, found %q", s)
		}
		return v, nil
	})
}

func (d *decoder) duration(dst *time.Duration) field {
	return value(d, dst, "a duration", parseDuration)
}

func (d *decoder) boolean(dst *bool) field {
	return value(d, dst, "true or false", func(s string) (bool, error) {
		switch strings.ToLower(s) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return false, fmt.Errorf("expected true or false, found %q", s)
	})
}

func (d *decoder) optInteger(dst **int) field {
	return func(path string, n *yaml.Node) {
		var v int
		if d.integer(&v)(path, n); !d.bad[path] {
			*dst = &v
		}
	}
}

func (d *decoder) optDuration(dst **time.Duration) field {
	return func(path string, n *yaml.Node) {
		var v time.Duration
		if d.duration(&v)(path, n); !d.bad[path] {
			*dst = &v
		}
	}
}

func (d *decoder) root(n *yaml.Node, c *Config) {
	d.mapping("", n, map[string]field{
		"api":       func(p string, v *yaml.Node) { d.api(p, v, &c.API) },
		"state_dir": d.str(&c.StateDir),
		"log": func(p string, v *yaml.Node) {
			d.mapping(p, v, map[string]field{
				"format": d.str(&c.Log.Format),
				"level":  d.str(&c.Log.Level),
			})
		},
		"storage": func(p string, v *yaml.Node) {
			c.Storage.Local = nil // targets are only those written
			d.storage(p, v, &c.Storage)
		},
		"server": func(p string, v *yaml.Node) {
			d.mapping(p, v, map[string]field{
				"listen":     d.str(&c.Server.Listen),
				"token_file": d.str(&c.Server.TokenFile),
			})
		},
		"concurrency": func(p string, v *yaml.Node) {
			d.mapping(p, v, map[string]field{
				"exports":   d.integer(&c.Concurrency.Exports),
				"downloads": d.integer(&c.Concurrency.Downloads),
			})
		},
		"shutdown_timeout": d.duration(&c.ShutdownTimeout),
		"defaults":         func(p string, v *yaml.Node) { d.defaults(p, v, &c.Defaults) },
		"sites": func(p string, v *yaml.Node) {
			d.sequence(p, v, func(p string, item *yaml.Node) {
				c.Sites = append(c.Sites, d.site(p, item))
			})
		},
	})
}

func (d *decoder) api(path string, n *yaml.Node, a *API) {
	d.mapping(path, n, map[string]field{
		"base_url":               d.str(&a.BaseURL),
		"token":                  d.str(&a.Token),
		"token_file":             d.str(&a.TokenFile),
		"timeout":                d.duration(&a.Timeout),
		"routes":                 d.str(&a.Routes),
		"poll_interval":          d.duration(&a.PollInterval),
		"poll_max_interval":      d.duration(&a.PollMaxInterval),
		"requests_per_minute":    d.integer(&a.RequestsPerMinute),
		"db_operations_per_hour": d.integer(&a.DBOperationsPerHour),
	})
}

func (d *decoder) storage(path string, n *yaml.Node, s *Storage) {
	d.mapping(path, n, map[string]field{
		"compression": d.str(&s.Compression),
		"local": func(p string, v *yaml.Node) {
			s.Local = &Local{}
			d.mapping(p, v, map[string]field{"path": d.str(&s.Local.Path)})
		},
		"s3": func(p string, v *yaml.Node) {
			s.S3 = &S3{}
			d.mapping(p, v, map[string]field{
				"endpoint":               d.str(&s.S3.Endpoint),
				"region":                 d.str(&s.S3.Region),
				"bucket":                 d.str(&s.S3.Bucket),
				"prefix":                 d.str(&s.S3.Prefix),
				"access_key_id":          d.str(&s.S3.AccessKeyID),
				"access_key_id_file":     d.str(&s.S3.AccessKeyIDFile),
				"secret_access_key":      d.str(&s.S3.SecretAccessKey),
				"secret_access_key_file": d.str(&s.S3.SecretAccessKeyFile),
				"storage_class":          d.str(&s.S3.StorageClass),
				"force_path_style":       d.boolean(&s.S3.ForcePathStyle),
			})
		},
	})
}

func (d *decoder) defaults(path string, n *yaml.Node, def *Defaults) {
	d.mapping(path, n, map[string]field{
		"schedule":       d.str(&def.Schedule),
		"timezone":       d.str(&def.Timezone),
		"jitter":         d.duration(&def.Jitter),
		"export_timeout": d.duration(&def.ExportTimeout),
		"source":         d.str(&def.Source),
		"retention": func(p string, v *yaml.Node) {
			r := &def.Retention
			d.mapping(p, v, map[string]field{
				"keep_last":       d.integer(&r.KeepLast),
				"keep_hourly":     d.integer(&r.KeepHourly),
				"keep_daily":      d.integer(&r.KeepDaily),
				"keep_weekly":     d.integer(&r.KeepWeekly),
				"keep_monthly":    d.integer(&r.KeepMonthly),
				"keep_yearly":     d.integer(&r.KeepYearly),
				"keep_within":     d.duration(&r.KeepWithin),
				"keep_pre_import": d.duration(&r.KeepPreImport),
			})
		},
	})
}

func (d *decoder) site(path string, n *yaml.Node) Site {
	var s Site
	d.mapping(path, n, map[string]field{
		"name": d.str(&s.Name),
		"id":   d.str(&s.ID),
		"environments": func(p string, v *yaml.Node) {
			d.sequence(p, v, func(p string, item *yaml.Node) {
				s.Environments = append(s.Environments, d.environment(p, item))
			})
		},
	})
	return s
}

func (d *decoder) environment(path string, n *yaml.Node) EnvironmentConfig {
	var e EnvironmentConfig
	d.mapping(path, n, map[string]field{
		"name":           d.str(&e.Name),
		"id":             d.str(&e.ID),
		"schedule":       d.str(&e.Schedule),
		"timezone":       d.str(&e.Timezone),
		"jitter":         d.optDuration(&e.Jitter),
		"export_timeout": d.optDuration(&e.ExportTimeout),
		"source":         d.str(&e.Source),
		"retention": func(p string, v *yaml.Node) {
			r := &RetentionOverride{}
			e.Retention = r
			d.mapping(p, v, map[string]field{
				"keep_last":       d.optInteger(&r.KeepLast),
				"keep_hourly":     d.optInteger(&r.KeepHourly),
				"keep_daily":      d.optInteger(&r.KeepDaily),
				"keep_weekly":     d.optInteger(&r.KeepWeekly),
				"keep_monthly":    d.optInteger(&r.KeepMonthly),
				"keep_yearly":     d.optInteger(&r.KeepYearly),
				"keep_within":     d.optDuration(&r.KeepWithin),
				"keep_pre_import": d.optDuration(&r.KeepPreImport),
			})
		},
	})
	return e
}

// applyDefaults fills the defaults that depend on other keys and
// normalizes values whose spelling does not matter.
func (d *decoder) applyDefaults(c *Config) {
	_, storageWritten := d.lines["storage"]
	_, pathWritten := d.lines["storage.local.path"]
	defaultPath := ""
	if c.StateDir != "" {
		defaultPath = filepath.Join(c.StateDir, "backups")
	}
	switch {
	case !storageWritten:
		c.Storage.Local = &Local{Path: defaultPath}
	case c.Storage.Local != nil && !pathWritten:
		c.Storage.Local.Path = defaultPath
	}
	c.API.BaseURL = strings.TrimRight(c.API.BaseURL, "/")
	if s3 := c.Storage.S3; s3 != nil && s3.Prefix != "" {
		s3.Prefix = strings.TrimLeft(s3.Prefix, "/")
		if s3.Prefix != "" && !strings.HasSuffix(s3.Prefix, "/") {
			s3.Prefix += "/"
		}
	}
}
