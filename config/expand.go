package config

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
)

// errBadReference is returned by expand for a malformed ${...}. Its text
// never quotes the value, which may be a secret.
var errBadReference = errors.New(`bad variable reference: write ${NAME} or ${NAME:-default} with NAME made of letters, digits and _, or $$ for a literal $`)

// expand replaces ${VAR} and ${VAR:-default} in s, and $$ by $. It returns
// the names of the variables that expanded to nothing because they were
// unset or empty, so that a later "empty" error can name them.
func expand(s string, lookup func(string) (string, bool)) (string, []string, error) {
	if !strings.Contains(s, "$") {
		return s, nil, nil
	}
	var b strings.Builder
	var unset []string
	for {
		i := strings.IndexByte(s, '$')
		if i < 0 || i == len(s)-1 {
			b.WriteString(s)
			return b.String(), unset, nil
		}
		b.WriteString(s[:i])
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			s = s[i+2:]
		case '{':
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				return "", nil, errBadReference
			}
			ref := s[i+2 : i+2+end]
			s = s[i+2+end+1:]
			name, def, hasDef := strings.Cut(ref, ":-")
			if !isVarName(name) {
				return "", nil, errBadReference
			}
			v, ok := "", false
			if lookup != nil {
				v, ok = lookup(name)
			}
			if !ok || v == "" {
				if hasDef {
					v = def
				}
				if v == "" {
					unset = append(unset, name)
				}
			}
			b.WriteString(v)
		default:
			b.WriteByte('$')
			s = s[i+1:]
		}
	}
}

func isVarName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_', 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// refs protects variable references from the YAML parser. A reference
// such as ${VAR:-a,b} is not a valid plain scalar inside a flow
// collection ({...} or [...]), so before parsing, protect replaces every
// well-formed reference by a placeholder that is; after parsing, restore
// puts the references back into each value, which expand then expands.
// Placeholders hold no newline, so line numbers do not change.
type refs struct {
	prefix string
	list   []string // the references, "${...}", by placeholder number
}

// protect returns data with its references replaced by placeholders.
func (r *refs) protect(data []byte) []byte {
	if !bytes.Contains(data, []byte("${")) {
		return data
	}
	// "q" cannot follow a backslash in a double-quoted YAML string, so a
	// placeholder after one is the same error as the reference would be.
	r.prefix = "qvectordref"
	for bytes.Contains(data, []byte(r.prefix)) {
		r.prefix += "q"
	}
	var out bytes.Buffer
	for i := 0; i < len(data); {
		c := data[i]
		if c != '$' || i+1 == len(data) {
			out.WriteByte(c)
			i++
			continue
		}
		switch data[i+1] {
		case '$':
			out.WriteString("$$")
			i += 2
			continue
		case '{':
			end := bytes.IndexAny(data[i+2:], "}\n")
			if end >= 0 && data[i+2+end] == '}' {
				ref := string(data[i : i+2+end+1])
				name, _, _ := strings.Cut(ref[2:len(ref)-1], ":-")
				if isVarName(name) {
					out.WriteString(r.prefix + strconv.Itoa(len(r.list)) + "q")
					r.list = append(r.list, ref)
					i += len(ref)
					continue
				}
			}
		}
		out.WriteByte(c)
		i++
	}
	return out.Bytes()
}

// restore puts the references back into a value.
func (r *refs) restore(s string) string {
	if r.prefix == "" || !strings.Contains(s, r.prefix) {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, r.prefix)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		rest := s[i+len(r.prefix):]
		j := strings.IndexByte(rest, 'q')
		n, err := strconv.Atoi(rest[:max(j, 0)])
		if j < 0 || err != nil || n < 0 || n >= len(r.list) {
			b.WriteString(r.prefix)
			s = rest
			continue
		}
		b.WriteString(r.list[n])
		s = rest[j+1:]
	}
}
