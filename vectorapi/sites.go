package vectorapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
)

// Site is a Vector site the token can see.
type Site struct {
	ID string
	// Name is the site's label: the API's name if it ever sends one, else
	// your_customer_id (the account's own id for the site), else its
	// subdomain; "" if none.
	Name string
	// Domain is the site's own (development) domain, dev_domain; "" if the
	// API did not say.
	Domain string
	// Environments are the site's environments, in the API's order; empty
	// for a site that has none. A site's development database is not one
	// of them.
	Environments []Environment
}

// Environment is one of a site's environments.
type Environment struct {
	ID     string
	Name   string // e.g. "production", "staging"
	SiteID string
}

// Sites returns every site the token can see (every page of GET /sites),
// in the API's order, each with its environments: those embedded in the
// site objects (the API's answers embed them), else, for sites without an
// "environments" field, from GET /environments (every page), matched by
// vector_site_id. It is safe to repeat and is retried on 5xx and network
// errors; it spends no database operation. 401/403 match ErrUnauthorized.
func (c *Client) Sites(ctx context.Context) ([]Site, error) {
	sites := []Site{}
	index := map[string]int{}
	var missing []int // sites whose objects hold no environments field
	err := c.listPages(ctx, opSites, nil, func(item fields) error {
		s, embedded, err := decodeSite(item)
		if err != nil {
			return err
		}
		if s.ID == "" {
			return errors.New("the site has no id")
		}
		if _, dup := index[s.ID]; dup {
			return nil
		}
		index[s.ID] = len(sites)
		if !embedded {
			missing = append(missing, len(sites))
		}
		sites = append(sites, s)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(missing) == 0 {
		return sites, nil
	}
	want := map[string]bool{}
	for _, i := range missing {
		want[sites[i].ID] = true
	}
	err = c.listPages(ctx, opEnvironments, url.Values{}, func(item fields) error {
		e, err := decodeEnvironment(item, "")
		if err != nil {
			return err
		}
		if e.ID == "" {
			return errors.New("the environment has no id")
		}
		if i, ok := index[e.SiteID]; ok && want[e.SiteID] {
			sites[i].Environments = append(sites[i].Environments, e)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return sites, nil
}

// decodeSite reads a site object; embedded reports whether it holds an
// "environments" field (an array, or an object whose data is one).
func decodeSite(f fields) (s Site, embedded bool, err error) {
	if s.ID, err = f.id("id", "site_id"); err != nil {
		return Site{}, false, err
	}
	if s.Name, err = f.str("name", "your_customer_id", "subdomain"); err != nil {
		return Site{}, false, err
	}
	if s.Domain, err = f.str("domain", "dev_domain"); err != nil {
		return Site{}, false, err
	}
	s.Environments = []Environment{}
	name, raw, present := f.lookup("environments")
	if !present {
		return s, false, nil
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '{' { // {"data": [...]}, or {} for none
		inner, err := decodeObject(name, raw)
		if err != nil {
			return Site{}, false, err
		}
		if raw = inner["data"]; raw == nil {
			return s, true, nil
		}
	}
	items, err := decodeItems(name, raw)
	if err != nil {
		return Site{}, false, err
	}
	for i, item := range items {
		e, err := decodeEnvironment(item, s.ID)
		if err != nil {
			return Site{}, false, fmt.Errorf("%s[%d]: %w", name, i, err)
		}
		if e.ID == "" {
			return Site{}, false, fmt.Errorf("%s[%d]: the environment has no id", name, i)
		}
		s.Environments = append(s.Environments, e)
	}
	return s, true, nil
}

// decodeEnvironment reads an environment object; siteID is its site when
// the object is embedded in one.
func decodeEnvironment(f fields, siteID string) (e Environment, err error) {
	if e.ID, err = f.id("id", "environment_id"); err != nil {
		return Environment{}, err
	}
	if e.Name, err = f.str("name"); err != nil {
		return Environment{}, err
	}
	if e.SiteID, err = f.id("vector_site_id", "site_id"); err != nil {
		return Environment{}, err
	}
	if siteID != "" {
		e.SiteID = siteID
	}
	return e, nil
}
