package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestDefaults(t *testing.T) {
	e := FromMap(nil)
	c := ReadCommon(e, "query")
	pg := ReadPostgres(e)
	if err := e.Err(); err != nil {
		t.Fatalf("defaults must be valid: %v", err)
	}
	if c.Env != "dev" || c.LogLevel != "info" || c.ServiceName != "ihr-query" || c.ShutdownTimeout != 20*time.Second {
		t.Errorf("common defaults: %+v", c)
	}
	if pg.URL != "postgres://postgres@127.0.0.1:5432/ihr?sslmode=disable" {
		t.Errorf("database default %q", pg.URL)
	}
}

func TestErrorsNameTheVariable(t *testing.T) {
	e := FromMap(map[string]string{
		"IHR_LOG_LEVEL":            "loud",
		"IHR_DB_MAX_CONNS":         "0",
		"IHR_DB_STATEMENT_TIMEOUT": "soon",
		"IHR_DATABASE_URL":         "mysql://u:secret@h/db",
		"IHR_QUERY_ADDR":           "8081",
		"OTEL_TRACES_SAMPLER_ARG":  "2",
	})
	ReadCommon(e, "query")
	ReadPostgres(e)
	e.Addr("IHR_QUERY_ADDR", ":8081")
	err := e.Err()
	if err == nil {
		t.Fatal("want errors")
	}
	for _, name := range []string{"IHR_LOG_LEVEL", "IHR_DB_MAX_CONNS", "IHR_DB_STATEMENT_TIMEOUT", "IHR_DATABASE_URL", "IHR_QUERY_ADDR", "OTEL_TRACES_SAMPLER_ARG"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s: %v", name, err)
		}
	}
	if strings.Contains(err.Error(), "secret") {
		t.Errorf("error leaks a password: %v", err)
	}
}

func TestValuesAndVars(t *testing.T) {
	e := FromMap(map[string]string{"A": " 42 ", "B": "", "D": "1m"})
	if got := e.Int("A", 1, 0, 100); got != 42 {
		t.Errorf("A=%d", got)
	}
	if got := e.String("B", "def"); got != "def" {
		t.Errorf("empty value should fall back to the default, got %q", got)
	}
	if got := e.Duration("D", time.Second, 0, time.Hour); got != time.Minute {
		t.Errorf("D=%s", got)
	}
	e.String("A", "")
	vars := e.Vars()
	if b := FromMap(map[string]string{"X": "yes"}); !b.Bool("X", false) || b.Err() != nil {
		t.Error("X=yes is true")
	}
	if b := FromMap(map[string]string{"X": "maybe"}); b.Bool("X", false) || b.Err() == nil {
		t.Error("X=maybe must be refused")
	}
	if len(vars) != 3 || vars[0] != (Var{"A", "1"}) || vars[1] != (Var{"B", "def"}) {
		t.Errorf("vars %v", vars)
	}
}

func TestRedact(t *testing.T) {
	if got := Redact("postgres://u:pw@h:5432/db"); strings.Contains(got, "pw") {
		t.Errorf("Redact kept the password: %s", got)
	}
	if got := Redact("redis://h:6379/0"); got != "redis://h:6379/0" {
		t.Errorf("Redact changed a URL without password: %s", got)
	}
}

func TestNATSReplicas(t *testing.T) {
	if n := ReadNATS(FromMap(nil)).Replicas; n != 1 {
		t.Errorf("default replicas %d, want 1 (a single server)", n)
	}
	e := FromMap(map[string]string{"IHR_NATS_REPLICAS": "3"})
	if n := ReadNATS(e).Replicas; n != 3 || e.Err() != nil {
		t.Errorf("IHR_NATS_REPLICAS=3 read as %d (%v)", n, e.Err())
	}
	for _, bad := range []string{"0", "6", "three"} {
		e := FromMap(map[string]string{"IHR_NATS_REPLICAS": bad})
		if ReadNATS(e); e.Err() == nil || !strings.Contains(e.Err().Error(), "IHR_NATS_REPLICAS") {
			t.Errorf("IHR_NATS_REPLICAS=%s accepted (%v)", bad, e.Err())
		}
	}
}

func TestParse(t *testing.T) {
	words := func(s string) ([]string, error) {
		if strings.Contains(s, "!") {
			return nil, errors.New("no exclamation marks")
		}
		return strings.Fields(s), nil
	}
	e := FromMap(map[string]string{"IHR_WORDS": "a b", "IHR_BAD": "a!"})
	if got := Parse(e, "IHR_WORDS", "x", words); len(got) != 2 || got[1] != "b" {
		t.Errorf("IHR_WORDS read as %q", got)
	}
	if got := Parse(e, "IHR_UNSET", "x y z", words); len(got) != 3 {
		t.Errorf("the default read as %q", got)
	}
	if got := Parse(e, "IHR_BAD", "x", words); got != nil {
		t.Errorf("a bad value read as %q", got)
	}
	err := e.Err()
	if err == nil || !strings.Contains(err.Error(), `invalid IHR_BAD="a!": no exclamation marks`) {
		t.Errorf("got %v", err)
	}
	if vars := e.Vars(); len(vars) != 3 || vars[1] != (Var{"IHR_UNSET", "x y z"}) {
		t.Errorf("vars %v", vars)
	}
}
