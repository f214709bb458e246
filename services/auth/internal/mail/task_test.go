package mail

import (
	"bytes"
	"encoding/json"
	"net/mail"
	"strings"
	"testing"

	"github.com/ihr-go/ihr/pkg/events"
)

func validTask() Task {
	return Task{Schema: Schema, ID: "confirm:01JEXAMPLE", Kind: KindConfirmEmail, To: "jane@example.org",
		Subject: "Confirm your IHR account", Text: "Open https://ihr.live/confirm?code=abc\n"}
}

func TestValidate(t *testing.T) {
	for name, tc := range map[string]struct {
		edit func(*Task)
		want string // "" when valid
	}{
		"valid":                   {func(*Task) {}, ""},
		"display name":            {func(t *Task) { t.To = "Renée Dupont <renee@example.org>" }, ""},
		"html alternative":        {func(t *Task) { t.HTML = "<p>hi</p>" }, ""},
		"non-ASCII subject":       {func(t *Task) { t.Subject = "Réinitialisez votre mot de passe" }, ""},
		"other schema":            {func(t *Task) { t.Schema = "ihr.tasks.email/v2" }, "schema"},
		"no id":                   {func(t *Task) { t.ID = "" }, "id"},
		"id with a space":         {func(t *Task) { t.ID = "a b" }, "id"},
		"id with an empty word":   {func(t *Task) { t.ID = "a::b" }, "id"},
		"id too long":             {func(t *Task) { t.ID = strings.Repeat("a", 129) }, "id"},
		"kind uppercase":          {func(t *Task) { t.Kind = "Alert" }, "kind"},
		"no kind":                 {func(t *Task) { t.Kind = "" }, "kind"},
		"not an address":          {func(t *Task) { t.To = "jane" }, "to: not an address"},
		"two addresses":           {func(t *Task) { t.To = "a@example.org, b@example.org" }, "to: not an address"},
		"CRLF in address":         {func(t *Task) { t.To = "jane@example.org\r\nBcc: all@example.org" }, "header injection"},
		"LF in display name":      {func(t *Task) { t.To = "Jane\n <jane@example.org>" }, "header injection"},
		"non-ASCII address":       {func(t *Task) { t.To = "renée@example.org" }, "ASCII"},
		"empty subject":           {func(t *Task) { t.Subject = "  " }, "empty subject"},
		"CRLF in subject":         {func(t *Task) { t.Subject = "Hi\r\nBcc: all@example.org" }, "header injection"},
		"LF in subject":           {func(t *Task) { t.Subject = "Hi\nthere" }, "header injection"},
		"NUL in subject":          {func(t *Task) { t.Subject = "Hi\x00" }, "header injection"},
		"line separator":          {func(t *Task) { t.Subject = "Hi\u2028there" }, "header injection"},
		"subject too long":        {func(t *Task) { t.Subject = strings.Repeat("a", 513) }, "subject longer"},
		"empty text":              {func(t *Task) { t.Text = "" }, "empty text"},
		"text not UTF-8":          {func(t *Task) { t.Text = "caf\xe9" }, "UTF-8"},
		"body too large":          {func(t *Task) { t.Text = strings.Repeat("a", MaxBody+1) }, "larger"},
		"text with line breaks":   {func(t *Task) { t.Text = "a\r\nb\n\tc\n" }, ""},
		"subject with a tab":      {func(t *Task) { t.Subject = "a\tb" }, ""},
		"kind free within syntax": {func(t *Task) { t.Kind = "register_taken" }, ""},
	} {
		task := validTask()
		tc.edit(&task)
		err := task.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", name, err)
		case tc.want != "" && (!events.IsInvalid(err) || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: got %v, want an events.Invalid about %q", name, err, tc.want)
		}
	}
}

func TestDecode(t *testing.T) {
	data, _ := json.Marshal(validTask())
	got, err := Decode(data)
	if err != nil || got != validTask() {
		t.Fatalf("Decode(%s) = %+v, %v", data, got, err)
	}
	for name, raw := range map[string]string{
		"unknown field": `{"schema":"ihr.tasks.email/v1","id":"a","kind":"alert","to":"a@example.org","subject":"s","text":"t","cc":"b@example.org"}`,
		"trailing data": `{"schema":"ihr.tasks.email/v1","id":"a","kind":"alert","to":"a@example.org","subject":"s","text":"t"} {}`,
		"not JSON":      `subject: hi`,
		"wrong type":    `{"schema":"ihr.tasks.email/v1","id":1}`,
	} {
		if _, err := Decode([]byte(raw)); !events.IsInvalid(err) {
			t.Errorf("%s: got %v, want an events.Invalid", name, err)
		}
	}
}

func TestMask(t *testing.T) {
	for in, want := range map[string]string{
		"jane.doe@example.org":        "j***@example.org",
		"Jane Doe <jane@example.org>": "j***@example.org",
		"not an address":              "***",
		"@example.org":                "***",
		"x@y":                         "x***@y",
	} {
		if got := mask(in); got != want {
			t.Errorf("mask(%q) = %q, want %q", in, got, want)
		}
	}
	s := &Sender{}
	if got := s.redact("smtp server refused RCPT: 550 <jane.doe@example.org>: unknown user"); strings.Contains(got, "jane.doe") || !strings.Contains(got, "j***@example.org") {
		t.Errorf("redact left the address: %q", got)
	}
	if got := (&Sender{dev: true}).redact("to jane@example.org"); got != "to jane@example.org" {
		t.Errorf("dev mode redacted: %q", got)
	}
}

// FuzzDecode: whatever arrives on the subject, Decode returns a valid
// task or an events.Invalid, and a task it accepts composes into headers
// without a line break of its own.
func FuzzDecode(f *testing.F) {
	data, _ := json.Marshal(validTask())
	f.Add(data)
	f.Add([]byte(`{"schema":"ihr.tasks.email/v1","id":"a","kind":"alert","to":"A \"q\" <a@example.org>","subject":"=?utf-8?q?x?=","text":"t","html":"<p>"}`))
	f.Add([]byte(`{"schema":"ihr.tasks.email/v1","id":"a","kind":"alert","to":"a@example.org","subject":"s\r\nBcc: x@y","text":"t"}`))
	from, _ := parseAddress(DefaultFrom)
	f.Fuzz(func(t *testing.T, data []byte) {
		task, err := Decode(data)
		if err != nil {
			if !events.IsInvalid(err) {
				t.Fatalf("error of another kind: %v", err)
			}
			return
		}
		to, err := task.recipient()
		if err != nil {
			t.Fatal(err)
		}
		msg, err := mail.ReadMessage(bytes.NewReader(compose(task, from, to, fixedTime)))
		if err != nil {
			t.Fatalf("composed an unreadable message: %v", err)
		}
		for k := range msg.Header {
			if !composedHeaders[k] {
				t.Fatalf("header %q injected", k)
			}
		}
		if got := msg.Header.Get("To"); strings.ContainsAny(got, "\r\n") {
			t.Fatalf("To header %q", got)
		}
	})
}
