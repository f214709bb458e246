package testkit

import (
	"crypto/tls"
	"errors"
	"net"
	"net/smtp"
	"net/textproto"
	"strings"
	"testing"
	"time"
)

const qpMessage = "From: IHR <no-reply@ihr.live>\r\n" +
	"To: <jane@example.org>\r\n" +
	"Subject: =?utf-8?q?Confirmez_votre_adresse_=C3=A9lectronique?=\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\n" +
	"Content-Transfer-Encoding: quoted-printable\r\n" +
	"\r\n" +
	"Bonjour Ren=C3=A9,\r\n" +
	".a line with a leading dot\r\n" +
	"open https://ihr.live/confirm?t=3Dabc or type 123456 =\r\n" +
	"to confirm.\r\n"

// send delivers body to srv with net/smtp, the client most senders resemble.
func send(t *testing.T, srv *SMTPServer, auth smtp.Auth, to []string, body string) error {
	t.Helper()
	c, err := smtp.Dial(srv.Addr())
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Hello("client.test"); err != nil {
		return err
	}
	if auth != nil {
		if err := c.Auth(auth); err != nil {
			return err
		}
	}
	if err := c.Mail("no-reply@ihr.live"); err != nil {
		return err
	}
	for _, r := range to {
		if err := c.Rcpt(r); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write([]byte(body)); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

func code(err error) int {
	var te *textproto.Error
	if errors.As(err, &te) {
		return te.Code
	}
	return 0
}

func TestSMTPRecordsAuthenticatedMail(t *testing.T) {
	srv := SMTP(t, SMTPAuth("ihr", "s3cret"))
	if err := send(t, srv, nil, []string{"jane@example.org"}, qpMessage); code(err) != 530 {
		t.Fatalf("MAIL without AUTH: %v, want 530", err)
	}
	if err := send(t, srv, smtp.PlainAuth("", "ihr", "wrong", "127.0.0.1"), []string{"jane@example.org"}, qpMessage); code(err) != 535 {
		t.Fatalf("AUTH with a wrong password: %v, want 535", err)
	}
	if err := send(t, srv, smtp.PlainAuth("", "ihr", "s3cret", "127.0.0.1"), []string{"jane@example.org", "bob@example.org"}, qpMessage); err != nil {
		t.Fatal(err)
	}
	m := srv.WaitFor(t, func(m Mail) bool { return m.Auth == "ihr" })
	if m.From != "no-reply@ihr.live" || strings.Join(m.To, ",") != "jane@example.org,bob@example.org" || m.TLS {
		t.Errorf("envelope %q → %q (tls %v)", m.From, m.To, m.TLS)
	}
	if m.Subject != "Confirmez votre adresse électronique" {
		t.Errorf("subject %q", m.Subject)
	}
	want := "Bonjour René,\n.a line with a leading dot\nopen https://ihr.live/confirm?t=abc or type 123456 to confirm.\n"
	if m.Text != want {
		t.Errorf("text %q, want %q", m.Text, want)
	}
	if m.URL() != "https://ihr.live/confirm?t=abc" || m.Code() != "123456" {
		t.Errorf("URL %q, code %q", m.URL(), m.Code())
	}
	if !strings.Contains(string(m.Data), "\r\n.a line with a leading dot\r\n") {
		t.Errorf("raw data not dot-unstuffed:\n%s", m.Data)
	}
	if n := len(srv.Messages()); n != 1 {
		t.Errorf("%d messages recorded, want 1", n)
	}
}

func TestSMTPAuthLogin(t *testing.T) {
	srv := SMTP(t, SMTPAuth("ihr", "s3cret"))
	c, err := textproto.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	step := func(cmd string, want int) {
		t.Helper()
		if cmd != "" {
			if err := c.PrintfLine("%s", cmd); err != nil {
				t.Fatal(err)
			}
		}
		if _, _, err := c.ReadResponse(want); err != nil {
			t.Fatalf("%q: %v", cmd, err)
		}
	}
	step("", 220)
	step("EHLO client.test", 250)
	step("AUTH LOGIN", 334)
	step("aWhy", 334)         // ihr
	step("czNjcmV0", 235)     // s3cret
	step("MAIL FROM:<>", 250) // a bounce's null sender
	step("RSET", 250)
	step("NOOP", 250)
	step("VRFY jane", 500)
	step("QUIT", 221)
}

func TestSMTPFailNext(t *testing.T) {
	srv := SMTP(t)
	srv.FailNext("mail", 2, 451, "4.3.0 try again later")
	for range 2 {
		if err := send(t, srv, nil, []string{"a@example.org"}, qpMessage); code(err) != 451 {
			t.Fatalf("got %v, want 451", err)
		}
	}
	if err := send(t, srv, nil, []string{"a@example.org"}, qpMessage); err != nil {
		t.Fatalf("third attempt: %v", err)
	}
	if n := srv.Count("MAIL"); n != 3 {
		t.Errorf("MAIL received %d times, want 3", n)
	}

	srv.FailNext(".", 1, 550, "5.7.1 rejected as spam")
	if err := send(t, srv, nil, []string{"a@example.org"}, qpMessage); code(err) != 550 {
		t.Errorf("end of data: %v, want 550", err)
	}
	srv.FailNext("CONNECT", 1, 421, "4.3.2 busy")
	if _, err := smtp.Dial(srv.Addr()); code(err) != 421 {
		t.Errorf("greeting: %v, want 421", err)
	}
	srv.FailNext("RCPT", 1, 421, "4.3.2 shutting down")
	if err := send(t, srv, nil, []string{"a@example.org"}, qpMessage); code(err) != 421 {
		t.Errorf("RCPT: %v, want 421", err)
	}
	if n := len(srv.Messages()); n != 1 {
		t.Errorf("%d messages recorded, want only the one accepted", n)
	}
}

func TestSMTPRefusesMalformedData(t *testing.T) {
	srv := SMTP(t)
	for name, body := range map[string]string{
		"long line": "Subject: x\r\n\r\n" + strings.Repeat("a", 1000) + "\r\n",
		"bare LF":   "Subject: x\r\n\r\nline\nline\r\n",
	} {
		c, err := textproto.Dial("tcp", srv.Addr())
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []struct {
			cmd  string
			want int
		}{{"", 220}, {"HELO client.test", 250}, {"MAIL FROM:<a@example.org>", 250}, {"RCPT TO:<b@example.org>", 250}, {"DATA", 354}} {
			if s.cmd != "" {
				c.PrintfLine("%s", s.cmd)
			}
			if _, _, err := c.ReadResponse(s.want); err != nil {
				t.Fatalf("%s: %q: %v", name, s.cmd, err)
			}
		}
		// Raw writes: textproto's DotWriter would repair the line ends.
		c.W.WriteString(body + ".\r\n")
		c.W.Flush()
		if _, _, err := c.ReadResponse(250); err == nil || code(err)/100 != 5 {
			t.Errorf("%s: %v, want a 5xx", name, err)
		}
		c.Close()
	}
	if n := len(srv.Messages()); n != 0 {
		t.Errorf("%d malformed messages recorded", n)
	}
}

func TestSMTPTLS(t *testing.T) {
	srv := SMTP(t, SMTPStartTLS())
	c, err := smtp.Dial(srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := c.Extension("STARTTLS"); !ok {
		t.Fatal("STARTTLS not offered")
	}
	cfg := srv.ClientTLS()
	cfg.ServerName = "127.0.0.1"
	if err := c.StartTLS(cfg); err != nil {
		t.Fatal(err)
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		t.Error("STARTTLS offered again inside TLS")
	}
	c.Mail("a@example.org")
	c.Rcpt("b@example.org")
	w, _ := c.Data()
	w.Write([]byte(qpMessage))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	c.Quit()
	if m := srv.WaitFor(t, func(Mail) bool { return true }); !m.TLS {
		t.Error("mail not marked as received over TLS")
	}

	implicit := SMTP(t, SMTPImplicitTLS())
	if !strings.HasPrefix(implicit.URL(), "smtps://127.0.0.1:") {
		t.Errorf("URL %s", implicit.URL())
	}
	cfg = implicit.ClientTLS()
	cfg.ServerName = "localhost"
	conn, err := tls.Dial("tcp", implicit.Addr(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ic, err := smtp.NewClient(conn, "localhost")
	if err != nil {
		t.Fatal(err)
	}
	if err := ic.Hello("client.test"); err != nil {
		t.Fatal(err)
	}
	ic.Quit()
}

func TestSMTPDownAndUp(t *testing.T) {
	srv := SMTP(t)
	srv.Down()
	if c, err := net.DialTimeout("tcp", srv.Addr(), time.Second); err == nil {
		c.Close()
		t.Fatal("connected to a server that is down")
	}
	if err := srv.Up(); err != nil {
		t.Fatal(err)
	}
	if err := send(t, srv, nil, []string{"a@example.org"}, qpMessage); err != nil {
		t.Fatalf("after Up: %v", err)
	}
}

func TestSMTPMultipartAndWaitForFailure(t *testing.T) {
	srv := SMTP(t)
	body := "Subject: digest\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n" +
		"--b1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\nQVM2NDUwMCBpcyBkb3du\r\n" +
		"--b1\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n<p>AS64500 is =\r\ndown</p>\r\n" +
		"--b1--\r\n"
	if err := send(t, srv, nil, []string{"a@example.org"}, body); err != nil {
		t.Fatal(err)
	}
	m := srv.WaitFor(t, func(m Mail) bool { return m.Subject == "digest" })
	if m.Text != "AS64500 is down" || m.HTML != "<p>AS64500 is down</p>" {
		t.Errorf("text %q html %q", m.Text, m.HTML)
	}

	srv.wait = 50 * time.Millisecond
	r := &fatalRecorder{TB: t}
	done := make(chan string, 1)
	go func() {
		defer func() { done <- r.msg }()
		srv.WaitFor(r, func(m Mail) bool { return m.Subject == "never" })
	}()
	if msg := <-done; !strings.Contains(msg, "accepted 1") || !strings.Contains(msg, `"digest"`) {
		t.Errorf("WaitFor failed with %q, want what arrived", msg)
	}
}

func TestSMTPHold(t *testing.T) {
	srv := SMTP(t)
	release := srv.Hold(".")
	sent := make(chan error, 1)
	go func() { sent <- send(t, srv, nil, []string{"a@example.org"}, qpMessage) }()
	Eventually(t, "the message to reach its terminating line", func() bool { return srv.Count(".") == 1 })
	if n := len(srv.Messages()); n != 0 {
		t.Fatalf("%d messages accepted while the answer is held", n)
	}
	release()
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	if n := len(srv.Messages()); n != 1 {
		t.Errorf("%d messages after release, want 1", n)
	}
	srv.Hold("MAIL") // left held: cleanup must not hang
	go func() { _ = send(t, srv, nil, []string{"a@example.org"}, qpMessage) }()
	Eventually(t, "MAIL to be held", func() bool { return srv.Count("MAIL") == 2 })
}
