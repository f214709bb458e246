package mail

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ihr-go/ihr/pkg/config"
	"github.com/ihr-go/ihr/pkg/testkit"
)

func TestReadConfigDefaults(t *testing.T) {
	e := config.FromMap(nil)
	c := ReadConfig(e)
	if c.URL != "" || c.From != DefaultFrom || c.Workers != 2 || c.RetryFor != 24*time.Hour || c.Err != nil || e.Err() != nil {
		t.Errorf("defaults: %+v (env: %v)", c, e.Err())
	}
	var names []string
	for _, v := range e.Vars() {
		names = append(names, v.Name)
	}
	for _, want := range []string{"IHR_SMTP_URL", "IHR_MAIL_FROM", "IHR_MAIL_BACKOFF_MAX", "IHR_MAIL_RETRY_FOR"} {
		if !strings.Contains(strings.Join(names, " "), want) {
			t.Errorf("%s not declared (--env lists %v)", want, names)
		}
	}
}

func TestParseServer(t *testing.T) {
	for raw, want := range map[string]server{
		"smtp://mail.example.org":                   {host: "mail.example.org", addr: "mail.example.org:587"},
		"smtp://u:p%40ss@mail.example.org:2525":     {host: "mail.example.org", addr: "mail.example.org:2525", user: "u", pass: "p@ss"},
		"smtp://mail.example.org?starttls=required": {host: "mail.example.org", addr: "mail.example.org:587", requireTLS: true},
		"smtp://mail.example.org:25/?starttls=auto": {host: "mail.example.org", addr: "mail.example.org:25"},
		"smtps://u:p@mail.example.org":              {host: "mail.example.org", addr: "mail.example.org:465", user: "u", pass: "p", implicitTLS: true, requireTLS: true},
		"smtp://[::1]:25":                           {host: "::1", addr: "[::1]:25"},
	} {
		got, err := parseServer(raw)
		if err != nil || *got != want {
			t.Errorf("%s: %+v, %v; want %+v", raw, got, err, want)
		}
	}
	for _, raw := range []string{"http://mail.example.org", "smtp://", "smtp:///x", "smtp://h/path",
		"smtp://h?starttls=yes", "smtps://h?starttls=required", "smtp://h?tls=1", "mail.example.org:25"} {
		if _, err := parseServer(raw); err == nil {
			t.Errorf("%s accepted", raw)
		}
	}
}

func TestConfigErrorsHidePasswords(t *testing.T) {
	c := ReadConfig(config.FromMap(map[string]string{
		"IHR_SMTP_URL":         "smtp://user:hunter2@mail.example.org?bogus=1",
		"IHR_MAIL_FROM":        "IHR <no-reply@ihr.live>\r\nBcc: all@example.org",
		"IHR_MAIL_BACKOFF_MIN": "10m",
		"IHR_MAIL_BACKOFF_MAX": "1m",
	}))
	if c.Err == nil {
		t.Fatal("no error")
	}
	msg := c.Err.Error()
	for _, want := range []string{"IHR_SMTP_URL", "unknown parameter", "IHR_MAIL_FROM", "header injection", "IHR_MAIL_BACKOFF_MIN"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q: %s", want, msg)
		}
	}
	if strings.Contains(msg, "hunter2") {
		t.Errorf("error shows the password: %s", msg)
	}
	if _, err := NewSender(c, nil, Options{Dev: true}); err == nil {
		t.Error("NewSender accepted an invalid configuration")
	}

	var logs bytes.Buffer
	c = ReadConfig(config.FromMap(map[string]string{"IHR_SMTP_URL": "smtps://user:hunter2@mail.example.org"}))
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("config", "mail", c)
	if strings.Contains(logs.String(), "hunter2") || !strings.Contains(logs.String(), "mail.example.org") {
		t.Errorf("logged configuration: %s", logs.String())
	}
}

// TestDocumented: the section of docs/events.md on the task holds an
// example the Sender accepts and names every variable ReadConfig reads.
func TestDocumented(t *testing.T) {
	md, err := os.ReadFile(filepath.Join(testkit.RepoRoot(t), "docs", "events.md"))
	if err != nil {
		t.Fatal(err)
	}
	section := regexp.MustCompile("(?s)\n## `ihr.tasks.email`.*?\n## ").Find(md)
	if section == nil {
		t.Fatal("docs/events.md has no section on ihr.tasks.email")
	}
	example := regexp.MustCompile("(?s)```json\n(.*?)```").FindSubmatch(section)
	if example == nil {
		t.Fatal("the section has no JSON example")
	}
	if _, err := Decode(example[1]); err != nil {
		t.Errorf("the documented example: %v", err)
	}
	e := config.FromMap(nil)
	ReadConfig(e)
	for _, v := range e.Vars() {
		if !bytes.Contains(section, []byte(v.Name)) {
			t.Errorf("%s is not documented", v.Name)
		}
	}
}
