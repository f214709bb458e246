package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"net/textproto"
	"time"

	"github.com/ihr-go/ihr/pkg/events"
)

// RejectedError is a mail the SMTP server refused for good: a 5xx answer to
// MAIL, RCPT, DATA or the message itself. Sending it again cannot help.
type RejectedError struct {
	Stage string // MAIL, RCPT, DATA or "." (the message)
	Code  int
	Msg   string
}

func (e *RejectedError) Error() string {
	return fmt.Sprintf("smtp server refused %s: %d %s", e.Stage, e.Code, e.Msg)
}

// permanent reports whether sending a task again cannot succeed. Anything
// else (no connection, a 4xx answer, a failed TLS handshake or AUTH: the
// server's state or our configuration) is worth retrying.
func permanent(err error) bool {
	var r *RejectedError
	return events.IsInvalid(err) || errors.As(err, &r)
}

// answer classifies the server's answer to a stage of a transaction.
func answer(stage string, err error) error {
	var te *textproto.Error
	if errors.As(err, &te) && te.Code >= 500 {
		return &RejectedError{Stage: stage, Code: te.Code, Msg: te.Msg}
	}
	return fmt.Errorf("smtp %s: %w", stage, err)
}

// send delivers msg to one recipient in one SMTP session.
func (s *server) send(ctx context.Context, base *tls.Config, timeout time.Duration, helo, from, to string, msg []byte) error {
	c, err := s.open(ctx, base, timeout, helo, true)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Mail(from); err != nil {
		return answer("MAIL", err)
	}
	if err := c.Rcpt(to); err != nil {
		return answer("RCPT", err)
	}
	w, err := c.Data()
	if err != nil {
		return answer("DATA", err)
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("smtp DATA: %w", err)
	}
	if err := w.Close(); err != nil { // the server's answer to the whole message
		return answer(".", err)
	}
	_ = c.Quit() // the mail is accepted: a lost QUIT changes nothing
	return nil
}

// probe checks that the server answers: greeting, EHLO, QUIT.
func (s *server) probe(ctx context.Context, base *tls.Config, timeout time.Duration, helo string) error {
	c, err := s.open(ctx, base, timeout, helo, false)
	if err != nil {
		return err
	}
	defer c.Close()
	return c.Quit()
}

// open connects, reads the greeting and says EHLO; with full, it also
// starts TLS (when offered, or as configured) and authenticates.
func (s *server) open(ctx context.Context, base *tls.Config, timeout time.Duration, helo string, full bool) (*smtp.Client, error) {
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, "tcp", s.addr)
	if err != nil {
		return nil, fmt.Errorf("smtp connect: %w", err)
	}
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) { // a probe's
		deadline = d
	}
	_ = conn.SetDeadline(deadline)
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12}
	if base != nil {
		tlsConf = base.Clone()
	}
	tlsConf.ServerName = s.host
	if s.implicitTLS {
		tc := tls.Client(conn, tlsConf)
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, fmt.Errorf("smtp tls: %w", err)
		}
		conn = tc
	}
	c, err := smtp.NewClient(conn, s.host) // closes conn when the greeting fails
	if err != nil {
		return nil, fmt.Errorf("smtp greeting: %w", err)
	}
	if err := s.start(c, tlsConf, helo, full); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func (s *server) start(c *smtp.Client, tlsConf *tls.Config, helo string, full bool) error {
	if err := c.Hello(helo); err != nil {
		return fmt.Errorf("smtp EHLO: %w", err)
	}
	if !full {
		return nil
	}
	if !s.implicitTLS {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(tlsConf); err != nil {
				return fmt.Errorf("smtp STARTTLS: %w", err)
			}
		} else if s.requireTLS {
			return errors.New("smtp server does not offer STARTTLS (starttls=required)")
		}
	}
	if s.user == "" {
		return nil
	}
	if ok, _ := c.Extension("AUTH"); !ok {
		return errors.New("smtp server offers no AUTH, and the URL has credentials")
	}
	// PlainAuth refuses to send the password in clear text, except to localhost.
	if err := c.Auth(smtp.PlainAuth("", s.user, s.pass, s.host)); err != nil {
		return fmt.Errorf("smtp AUTH: %w", err)
	}
	return nil
}
