package mail

import (
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"testing"
	"time"
)

var fixedTime = time.Date(2026, 12, 4, 10, 30, 0, 0, time.FixedZone("CET", 3600))

// composedHeaders are the headers compose writes, as net/mail names them.
var composedHeaders = map[string]bool{"Date": true, "Message-Id": true, "From": true, "To": true, "Subject": true,
	"Mime-Version": true, "Auto-Submitted": true, "Content-Type": true, "Content-Transfer-Encoding": true}

// body is a text with what SMTP and quoted-printable make hard: non-ASCII,
// a line longer than SMTP allows, a leading dot, trailing spaces, '='.
var body = "Bonjour René,\n\n" + strings.Repeat("ünïcödé ", 60) + "\n" + strings.Repeat("x", 1200) + "\n" +
	".leading dot\n..two dots\n.\ntrailing spaces   \na=b\n"

// composed composes task, checks that every line ends with CRLF and is at
// most 78 characters long, and parses the message.
func composed(t *testing.T, task Task) *mail.Message {
	t.Helper()
	from, _ := parseAddress(DefaultFrom)
	to, err := task.recipient()
	if err != nil {
		t.Fatal(err)
	}
	raw := string(compose(task, from, to, fixedTime))
	if !strings.HasSuffix(raw, "\r\n") {
		t.Fatalf("message does not end with CRLF")
	}
	for i, l := range strings.Split(strings.TrimSuffix(raw, "\r\n"), "\r\n") {
		if strings.ContainsAny(l, "\r\n") {
			t.Fatalf("line %d holds a bare CR or LF: %q", i, l)
		}
		if len(l) > 78 {
			t.Errorf("line %d is %d characters long: %q", i, len(l), l)
		}
	}
	msg, err := mail.ReadMessage(strings.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

func TestComposePlainText(t *testing.T) {
	task := validTask()
	task.To = "Renée Dupont <renee@example.org>"
	task.Subject = "Réinitialisez le mot de passe de votre compte IHR (Internet Health Report), s'il vous plaît"
	task.Text = strings.ReplaceAll(body, "\n", "\r\n") // CRLF or LF in, CRLF out
	msg := composed(t, task)
	h := msg.Header
	if d, err := h.Date(); err != nil || !d.Equal(fixedTime) {
		t.Errorf("Date %q: %v", h.Get("Date"), err)
	}
	for name, want := range map[string]string{
		"Message-ID":                "<confirm.01JEXAMPLE@ihr.live>",
		"From":                      `"IHR" <no-reply@ihr.live>`,
		"MIME-Version":              "1.0",
		"Content-Type":              "text/plain; charset=utf-8",
		"Content-Transfer-Encoding": "quoted-printable",
		"Auto-Submitted":            "auto-generated",
	} {
		if got := h.Get(name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	if a, err := h.AddressList("To"); err != nil || len(a) != 1 || a[0].Name != "Renée Dupont" || a[0].Address != "renee@example.org" {
		t.Errorf("To %q: %v %v", h.Get("To"), a, err)
	}
	if !strings.HasPrefix(h.Get("Subject"), "=?utf-8?q?") {
		t.Errorf("Subject not RFC 2047-encoded: %q", h.Get("Subject"))
	}
	if s, err := new(mime.WordDecoder).DecodeHeader(h.Get("Subject")); err != nil || s != task.Subject {
		t.Errorf("Subject decodes to %q (%v)", s, err)
	}
	text, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.ReplaceAll(string(text), "\r\n", "\n"); got != body {
		t.Errorf("body decodes to\n%q\nwant\n%q", got, body)
	}
}

func TestComposeHTMLAlternative(t *testing.T) {
	task := validTask()
	task.Text, task.HTML = "AS64500 est injoignable\n", `<p style="color:red">AS64500 est injoignable</p>`
	msg := composed(t, task)
	mediaType, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mediaType != "multipart/alternative" {
		t.Fatalf("Content-Type %q: %v", msg.Header.Get("Content-Type"), err)
	}
	r := multipart.NewReader(msg.Body, params["boundary"])
	var got []string
	for {
		p, err := r.NextPart() // decodes quoted-printable
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(p)
		got = append(got, p.Header.Get("Content-Type")+": "+strings.TrimSpace(string(b)))
	}
	want := []string{"text/plain; charset=utf-8: " + strings.TrimSpace(task.Text), "text/html; charset=utf-8: " + task.HTML}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("parts\n%q\nwant\n%q", got, want)
	}
}

func TestWriteHeaderFolds(t *testing.T) {
	for _, value := range []string{
		"short",
		strings.Repeat("word ", 40),
		strings.Repeat("x", 100) + " tail",
		strings.Repeat("y", 120),
	} {
		var b bytes.Buffer
		writeHeader(&b, "Subject", value)
		out := b.String()
		if unfolded := strings.ReplaceAll(strings.TrimSuffix(out, "\r\n"), "\r\n", ""); unfolded != "Subject: "+value {
			t.Errorf("unfolds to %q", unfolded)
		}
		for _, l := range strings.Split(strings.TrimSuffix(out, "\r\n"), "\r\n") {
			if len(l) > 78 && strings.Contains(strings.TrimSpace(l)[1:], " ") {
				t.Errorf("line of %d characters with a space to fold at: %q", len(l), l)
			}
			if strings.TrimSpace(l) == "" {
				t.Errorf("blank header line in %q", out)
			}
		}
	}
}
