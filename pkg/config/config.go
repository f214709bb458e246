// Package config reads service configuration from environment variables.
//
// A service declares every variable it reads through an Env, which records
// the name and default of each (so `--env` can list them) and collects every
// invalid value, so one start reports all configuration mistakes at once,
// each naming its variable.
package config

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Var describes one variable a service reads.
type Var struct {
	Name    string
	Default string
}

// Env reads variables through a lookup function (os.LookupEnv in main, a map
// in tests). An empty value counts as unset.
type Env struct {
	lookup func(string) (string, bool)
	vars   []Var
	errs   []error
}

// New returns an Env that reads variables with lookup.
func New(lookup func(string) (string, bool)) *Env {
	return &Env{lookup: lookup}
}

// FromMap returns an Env over a fixed set of variables.
func FromMap(m map[string]string) *Env {
	return New(func(k string) (string, bool) { v, ok := m[k]; return v, ok })
}

// Vars lists the variables read so far, in the order they were read, once each.
func (e *Env) Vars() []Var { return slices.Clone(e.vars) }

// Err returns every invalid value found so far, or nil.
func (e *Env) Err() error { return errors.Join(e.errs...) }

func (e *Env) raw(name, def string) (string, bool) {
	if !slices.ContainsFunc(e.vars, func(v Var) bool { return v.Name == name }) {
		e.vars = append(e.vars, Var{Name: name, Default: def})
	}
	v, ok := e.lookup(name)
	v = strings.TrimSpace(v)
	if !ok || v == "" {
		return def, false
	}
	return v, true
}

func (e *Env) fail(name, value, reason string) {
	e.errs = append(e.errs, fmt.Errorf("invalid %s=%q: %s", name, value, reason))
}

// String returns the variable's value, or def when unset.
func (e *Env) String(name, def string) string {
	v, _ := e.raw(name, def)
	return v
}

// Enum returns the variable's value, which must be one of allowed (the first is the default).
func (e *Env) Enum(name string, allowed ...string) string {
	v, _ := e.raw(name, allowed[0])
	if !slices.Contains(allowed, v) {
		e.fail(name, v, "must be one of "+strings.Join(allowed, ", "))
		return allowed[0]
	}
	return v
}

// Bool returns the variable as a boolean (true/false, 1/0, yes/no).
func (e *Env) Bool(name string, def bool) bool {
	v, set := e.raw(name, strconv.FormatBool(def))
	if !set {
		return def
	}
	switch strings.ToLower(v) {
	case "true", "1", "yes":
		return true
	case "false", "0", "no":
		return false
	}
	e.fail(name, v, "must be true or false")
	return def
}

// Int returns the variable as an integer within [lo, hi].
func (e *Env) Int(name string, def, lo, hi int) int {
	v, set := e.raw(name, strconv.Itoa(def))
	if !set {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		e.fail(name, v, "not an integer")
		return def
	}
	if n < lo || n > hi {
		e.fail(name, v, fmt.Sprintf("must be between %d and %d", lo, hi))
		return def
	}
	return n
}

// Float returns the variable as a number within [lo, hi].
func (e *Env) Float(name string, def, lo, hi float64) float64 {
	v, set := e.raw(name, strconv.FormatFloat(def, 'g', -1, 64))
	if !set {
		return def
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < lo || f > hi {
		e.fail(name, v, fmt.Sprintf("must be a number between %g and %g", lo, hi))
		return def
	}
	return f
}

// Duration returns the variable as a Go duration (e.g. "30s") within [lo, hi].
func (e *Env) Duration(name string, def, lo, hi time.Duration) time.Duration {
	v, set := e.raw(name, def.String())
	if !set {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		e.fail(name, v, "not a duration such as 500ms, 30s or 2m")
		return def
	}
	if d < lo || d > hi {
		e.fail(name, v, fmt.Sprintf("must be between %s and %s", lo, hi))
		return def
	}
	return d
}

// URL returns the variable as an absolute URL whose scheme is one of schemes.
func (e *Env) URL(name, def string, schemes ...string) string {
	v, _ := e.raw(name, def)
	u, err := url.Parse(v)
	switch {
	case err != nil:
		e.fail(name, Redact(v), "not a URL")
	case !slices.Contains(schemes, u.Scheme):
		e.fail(name, Redact(v), "scheme must be one of "+strings.Join(schemes, ", "))
	case u.Host == "":
		e.fail(name, Redact(v), "missing host")
	}
	return v
}

// Addr returns the variable as a listen address "host:port" ("" host = all interfaces).
func (e *Env) Addr(name, def string) string {
	v, _ := e.raw(name, def)
	i := strings.LastIndexByte(v, ':')
	if i < 0 {
		e.fail(name, v, "must be host:port, e.g. :8080")
		return def
	}
	if p, err := strconv.Atoi(v[i+1:]); err != nil || p < 0 || p > 65535 {
		e.fail(name, v, "port must be between 0 and 65535")
		return def
	}
	return v
}

// Redact hides the password of a URL so it can be logged or shown in errors.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// Parse returns the variable (def when unset) as parse reads it; when parse
// fails, the error is reported naming the variable and the zero T returned.
// It is for values with a shape of their own (address lists, origins).
func Parse[T any](e *Env, name, def string, parse func(string) (T, error)) T {
	v, _ := e.raw(name, def)
	t, err := parse(v)
	if err != nil {
		e.fail(name, Redact(v), err.Error()) // a URL's password stays out of the error
		var zero T
		return zero
	}
	return t
}
