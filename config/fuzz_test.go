package config

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse checks that Parse never panics, that every error it returns
// has a message, and that what it accepts is valid and resolves.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yaml")
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		"",
		"api: {token: t}\nsites: [{name: a, id: '1'}]\n",
		"api: {token: ${VECTOR_API_TOKEN:-x}}\nsites: [&s {name: a, id: '1', environments: [{name: b, <<: *s}]}]\n",
		"sites: [{<<: [{name: a}, {id: '1'}]}]\napi: {token: t}\n",
		"api: &a {token: *a}\n",
		"defaults: {schedule: 'TZ=UTC'}\n",
		"- a\n- b\n",
		"{? [a]: b}\n",
		"api: {token: ${T:-a,b}}\nsites: [{name: '${N:-x}', id: ${I:-1}}]\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, "config.yaml", lookup(testEnv))
		if err != nil {
			if c != nil {
				t.Errorf("Parse returned a Config with an error")
			}
			if err.Error() == "" {
				t.Fatalf("empty error message")
			}
			errs := []error{err}
			if j, ok := err.(interface{ Unwrap() []error }); ok {
				errs = j.Unwrap()
			}
			for _, e := range errs {
				var ce *Error
				if !errors.As(e, &ce) || ce.Msg == "" || ce.File != "config.yaml" {
					t.Errorf("error %q is not a complete *Error", e)
				}
			}
			return
		}
		if !bytes.Contains(data, []byte("qvectordref")) {
			values := []string{c.API.Token, c.API.BaseURL, c.StateDir, c.Defaults.Schedule, c.Server.Listen}
			for _, s := range c.Sites {
				values = append(values, s.Name, s.ID)
				for _, e := range s.Environments {
					values = append(values, e.Name, e.ID, e.Schedule, e.Timezone)
				}
			}
			for _, v := range values {
				if strings.Contains(v, "qvectordref") {
					t.Errorf("a placeholder leaked into %q", v)
				}
			}
		}
		if err := c.Validate(); err != nil {
			t.Errorf("Validate() after Parse = %v", err)
		}
		for _, e := range c.Environments() {
			if e.Cron == nil || e.Location == nil {
				t.Errorf("environment %s/%s does not resolve", e.Site, e.Name)
			}
		}
		for _, s := range c.Sites {
			if _, err := c.Environment(s.Name, ""); err != nil && err.Error() == "" {
				t.Errorf("empty error message from Environment")
			}
		}
	})
}
