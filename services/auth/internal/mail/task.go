// Package mail sends the auth service's e-mails (address confirmation,
// password reset, e-mail change, alert digests) as background tasks: a
// [Queue] stores each task in the IHR_TASKS work queue on ihr.tasks.email,
// and a [Sender] takes tasks from there and sends them by SMTP,
// acknowledging a task only once the SMTP server accepted its mail.
//
// It uses nats.go's jetstream package directly, like the ingestion
// consumer: the acknowledgement depends on the outcome (ack, a Nak whose
// delay grows with the attempts, or Term after a copy to the DLQ).
package mail

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/ihr-go/ihr/pkg/events"
)

// The contract of the task (docs/events.md, "ihr.tasks.email").
const (
	// Schema names version 1 of the task.
	Schema = "ihr.tasks.email/v1"
	// TaskSubject is where tasks are published, under the deployment's prefix.
	TaskSubject = "ihr.tasks.email"
	// DLQSubject receives the tasks that can never be sent, with the reason.
	DLQSubject = "ihr.dlq.tasks"
	// Durable is the name of the Sender's consumer.
	Durable = "auth-email"
	// MaxBody bounds the text and HTML bodies together, in bytes.
	MaxBody = 256 << 10
	// maxSubject bounds the subject, in bytes.
	maxSubject = 512
)

// The kinds of mail the auth service sends. Kind is free within its
// syntax (lowercase letters, digits, '_'); it labels logs and metrics.
const (
	KindConfirmEmail  = "confirm_email"
	KindResetPassword = "reset_password"
	KindChangeEmail   = "change_email"
	KindAlert         = "alert"
)

// Task is one mail to send: a plain text body and, optionally, an HTML
// alternative of the same content.
type Task struct {
	Schema string `json:"schema"`
	// ID identifies the mail: the task's Nats-Msg-Id (a task published
	// twice is stored once) and the left part of its Message-ID. At most
	// 128 characters: words of A-Z a-z 0-9 - _ joined by '.' or ':'
	// ("confirm:01JEXAMPLE"). It must not hold a secret: logs show it.
	ID   string `json:"id"`
	Kind string `json:"kind"`
	// To is one address net/mail parses ("jane@example.org" or
	// "Jane Doe <jane@example.org>"), its address part in ASCII.
	To      string `json:"to"`
	Subject string `json:"subject"`
	Text    string `json:"text"`
	HTML    string `json:"html,omitempty"`
}

// invalid returns the error of a task that can never be sent: an
// *events.Invalid (the error every IHR consumer dead-letters), which
// events.IsInvalid recognises. The Queue refuses such a task and the
// Sender dead-letters it.
func invalid(format string, args ...any) error {
	return &events.Invalid{Reason: fmt.Sprintf(format, args...)}
}

// NewID returns a random task id.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Validate checks the task as the Sender will.
func (t Task) Validate() error {
	_, err := t.recipient()
	return err
}

// recipient validates the task and returns its parsed address.
func (t Task) recipient() (*mail.Address, error) {
	switch {
	case t.Schema != Schema:
		return nil, invalid("schema %q, want %q", t.Schema, Schema)
	case len(t.ID) > 128 || !validID.MatchString(t.ID):
		return nil, invalid("id must be at most 128 characters: words of A-Z a-z 0-9 - _ joined by '.' or ':'")
	case len(t.Kind) > 32 || !validKind.MatchString(t.Kind):
		return nil, invalid("kind must be 1-32 of a-z 0-9 _, starting with a letter")
	}
	to, err := parseAddress(t.To)
	if err != nil {
		return nil, invalid("to: %v", err)
	}
	switch {
	case strings.TrimSpace(t.Subject) == "":
		return nil, invalid("empty subject")
	case len(t.Subject) > maxSubject:
		return nil, invalid("subject longer than %d bytes", maxSubject)
	case !headerSafe(t.Subject):
		return nil, invalid("subject holds a line break or another control character (header injection)")
	case strings.TrimSpace(t.Text) == "":
		return nil, invalid("empty text")
	case !utf8.ValidString(t.Text) || !utf8.ValidString(t.HTML):
		return nil, invalid("body is not valid UTF-8")
	case len(t.Text)+len(t.HTML) > MaxBody:
		return nil, invalid("body larger than %d bytes", MaxBody)
	}
	return to, nil
}

// Decode reads and validates a task published on TaskSubject. Unknown
// fields make it invalid, as in every IHR message.
func Decode(data []byte) (Task, error) {
	var t Task
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t); err != nil {
		return Task{}, invalid("not a task: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Task{}, invalid("not a task: data after the object")
	}
	return t, t.Validate()
}

// parseAddress parses one address for a header and the SMTP envelope.
func parseAddress(s string) (*mail.Address, error) {
	if !headerSafe(s) {
		return nil, errors.New("holds a line break or another control character (header injection)")
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return nil, fmt.Errorf("not an address: %w", err)
	}
	for _, c := range a.Address {
		// The envelope would need SMTPUTF8; domains go in their ASCII (punycode) form.
		if c > '~' || c <= ' ' {
			return nil, errors.New("the address part must be ASCII")
		}
	}
	return a, nil
}

// headerSafe reports whether s is valid UTF-8 without control characters
// (CR and LF above all: they would end the header and start another).
func headerSafe(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, c := range s {
		if c < ' ' && c != '\t' || c == 0x7f || c == '\u2028' || c == '\u2029' || c == '\u0085' {
			return false
		}
	}
	return true
}

var (
	// validID keeps ids usable as Nats-Msg-Id and, with ':' as '.', as
	// the dot-atom of a Message-ID.
	validID   = regexp.MustCompile(`^[A-Za-z0-9_-]+([.:][A-Za-z0-9_-]+)*$`)
	validKind = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
)
