package testkit

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// SMTPServer is a real SMTP server (RFC 5321) on a loopback port, for
// testing code that sends mail. It speaks EHLO/HELO, optional STARTTLS or
// implicit TLS, optional AUTH PLAIN and LOGIN, MAIL, RCPT, DATA (with
// dot-unstuffing), RSET, NOOP and QUIT; it records every message it accepts
// and can be told to refuse a command the next few times.
//
// It is strict where real servers are: message lines longer than 1000
// octets or ending in a bare LF are refused (5xx), and with credentials
// configured MAIL needs a successful AUTH first.
type SMTPServer struct {
	addr     string
	user     string
	pass     string
	startTLS bool
	implicit bool
	maxSize  int
	wait     time.Duration // how long WaitFor waits
	cert     tls.Certificate
	roots    *x509.CertPool

	mu       sync.Mutex
	ln       net.Listener
	conns    map[net.Conn]struct{}
	mails    []Mail
	arrived  chan struct{} // closed and replaced whenever a mail is recorded
	failures map[string]*smtpFailure
	holds    map[string]chan struct{}
	counts   map[string]int
	wg       sync.WaitGroup
	closed   chan struct{} // closed at cleanup: releases every hold
}

// Mail is a message the SMTPServer accepted.
type Mail struct {
	// From and To are the envelope: MAIL FROM and every RCPT TO.
	From string
	To   []string
	// Auth is the user name the client authenticated as ("" without AUTH).
	Auth string
	// TLS reports whether the session was encrypted (STARTTLS or implicit).
	TLS bool
	// Data is the message as received after dot-unstuffing, CRLF line ends kept.
	Data   []byte
	Header mail.Header
	// Subject is the Subject header, RFC 2047 words decoded.
	Subject string
	// Text and HTML are the decoded text/plain and text/html bodies (of a
	// multipart/alternative message, or the single body), with CRLF turned
	// into LF.
	Text string
	HTML string
}

type smtpFailure struct {
	code int
	text string
	left int
}

// SMTPOption configures an SMTPServer.
type SMTPOption func(*SMTPServer)

// SMTPAuth makes the server advertise AUTH PLAIN LOGIN and require a
// successful AUTH with these credentials before MAIL.
func SMTPAuth(user, pass string) SMTPOption {
	return func(s *SMTPServer) { s.user, s.pass = user, pass }
}

// SMTPStartTLS makes the server offer STARTTLS, with a self-signed
// certificate for 127.0.0.1 and localhost that [SMTPServer.ClientTLS] trusts.
func SMTPStartTLS() SMTPOption { return func(s *SMTPServer) { s.startTLS = true } }

// SMTPImplicitTLS makes the server speak TLS from the first byte (smtps).
func SMTPImplicitTLS() SMTPOption { return func(s *SMTPServer) { s.implicit = true } }

// SMTP starts an SMTP server on 127.0.0.1:0, stopped in t.Cleanup.
func SMTP(t testing.TB, opts ...SMTPOption) *SMTPServer {
	t.Helper()
	s := &SMTPServer{
		maxSize:  10 << 20,
		wait:     20 * time.Second,
		conns:    map[net.Conn]struct{}{},
		arrived:  make(chan struct{}),
		failures: map[string]*smtpFailure{},
		holds:    map[string]chan struct{}{},
		counts:   map[string]int{},
		closed:   make(chan struct{}),
	}
	for _, o := range opts {
		o(s)
	}
	if s.startTLS || s.implicit {
		var err error
		if s.cert, s.roots, err = selfSigned(); err != nil {
			t.Fatalf("smtp test certificate: %v", err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	s.serve(ln)
	t.Cleanup(func() {
		close(s.closed)
		s.Down()
		s.wg.Wait()
	})
	return s
}

// Addr is the server's "host:port".
func (s *SMTPServer) Addr() string { return s.addr }

// URL is the server's address as smtp:// (smtps:// with implicit TLS),
// with the configured credentials.
func (s *SMTPServer) URL() string {
	u := url.URL{Scheme: "smtp", Host: s.addr}
	if s.implicit {
		u.Scheme = "smtps"
	}
	if s.user != "" {
		u.User = url.UserPassword(s.user, s.pass)
	}
	return u.String()
}

// ClientTLS returns a client configuration that trusts the server's
// certificate (nil when the server has no TLS). Set ServerName to the host
// dialled, as TLS clients do.
func (s *SMTPServer) ClientTLS() *tls.Config {
	if s.roots == nil {
		return nil
	}
	return &tls.Config{RootCAs: s.roots, MinVersion: tls.VersionTLS12}
}

// FailNext makes the server answer command with code and text the next n
// times it is received, instead of handling it. command is a verb ("EHLO",
// "AUTH", "MAIL", "RCPT", "DATA", ...), "CONNECT" for the greeting, or "."
// for the answer to a whole message (after its terminating line). After a
// 421 answer, or a refused greeting, the server closes the connection.
func (s *SMTPServer) FailNext(command string, n, code int, text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures[strings.ToUpper(command)] = &smtpFailure{code: code, text: text, left: n}
}

// Hold makes the server wait before it answers command (named as in
// FailNext) until release is called: a slow server, to see what a client
// does meanwhile. Count already includes a held command. Cleanup releases
// what is still held.
func (s *SMTPServer) Hold(command string) (release func()) {
	command = strings.ToUpper(command)
	ch := make(chan struct{})
	s.mu.Lock()
	s.holds[command] = ch
	s.mu.Unlock()
	return sync.OnceFunc(func() {
		s.mu.Lock()
		if s.holds[command] == ch {
			delete(s.holds, command)
		}
		s.mu.Unlock()
		close(ch)
	})
}

// hold waits while command is held.
func (s *SMTPServer) hold(command string) {
	s.mu.Lock()
	ch := s.holds[command]
	s.mu.Unlock()
	if ch != nil {
		select {
		case <-ch:
		case <-s.closed:
		}
	}
}

// Count returns how many times command was received (as named in FailNext).
func (s *SMTPServer) Count(command string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[strings.ToUpper(command)]
}

// Messages returns the messages accepted so far, oldest first.
func (s *SMTPServer) Messages() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Mail(nil), s.mails...)
}

// WaitFor returns the first accepted message match accepts, waiting for it
// up to 20 s, then fails t with the messages that did arrive.
func (s *SMTPServer) WaitFor(t testing.TB, match func(Mail) bool) Mail {
	t.Helper()
	deadline := time.NewTimer(s.wait)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		mails, arrived := s.mails, s.arrived
		s.mu.Unlock()
		for _, m := range mails {
			if match(m) {
				return m
			}
		}
		select {
		case <-arrived:
		case <-deadline.C:
			var got strings.Builder
			for _, m := range mails {
				fmt.Fprintf(&got, "\n  from %q to %q: %q", m.From, m.To, m.Subject)
			}
			t.Fatalf("no matching mail within %s; the server accepted %d:%s", s.wait, len(mails), got.String())
			return Mail{}
		}
	}
}

// Down stops listening and drops every open session: the server is
// unreachable (connection refused) until Up.
func (s *SMTPServer) Down() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		s.ln.Close()
		s.ln = nil
	}
	for c := range s.conns {
		c.Close()
	}
}

// Up listens again on the same address after Down.
func (s *SMTPServer) Up() error {
	s.mu.Lock()
	up := s.ln != nil
	s.mu.Unlock()
	if up {
		return nil
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("smtp test server: listen again on %s: %w", s.addr, err)
	}
	s.serve(ln)
	return nil
}

func (s *SMTPServer) serve(ln net.Listener) {
	s.mu.Lock()
	s.ln = ln
	s.mu.Unlock()
	s.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			if s.ln != ln { // Down raced with this accept
				s.mu.Unlock()
				c.Close()
				return
			}
			s.conns[c] = struct{}{}
			s.mu.Unlock()
			s.wg.Go(func() {
				defer func() {
					s.mu.Lock()
					delete(s.conns, c)
					s.mu.Unlock()
					c.Close()
				}()
				s.session(c)
			})
		}
	})
}

// take counts command and returns the failure to answer it with, if any.
func (s *SMTPServer) take(command string) (*smtpFailure, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts[command]++
	f := s.failures[command]
	if f == nil || f.left <= 0 {
		return nil, false
	}
	f.left--
	return f, true
}

func (s *SMTPServer) record(m Mail) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mails = append(s.mails, m)
	close(s.arrived)
	s.arrived = make(chan struct{})
}

// smtpSession is the state of one client connection.
type smtpSession struct {
	s     *SMTPServer
	conn  net.Conn
	r     *bufio.Reader
	tls   bool
	hello bool
	auth  string
	inTx  bool
	from  string
	rcpts []string
}

var errLineTooLong = errors.New("line too long")

func (s *SMTPServer) session(c net.Conn) {
	ss := &smtpSession{s: s, conn: c, r: bufio.NewReader(c)}
	if s.implicit {
		tc := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{s.cert}})
		if err := tc.Handshake(); err != nil {
			return
		}
		ss.conn, ss.r, ss.tls = tc, bufio.NewReader(tc), true
	}
	f, failed := s.take("CONNECT")
	s.hold("CONNECT")
	if failed {
		ss.reply(f.code, f.text)
		return
	}
	ss.reply(220, "127.0.0.1 ESMTP testkit")
	for {
		line, err := ss.readLine(512)
		if errors.Is(err, errLineTooLong) {
			ss.reply(500, "5.5.2 Line too long")
			continue
		}
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		verb = strings.ToUpper(verb)
		f, failed := s.take(verb)
		s.hold(verb)
		if failed {
			ss.reply(f.code, f.text)
			if f.code == 421 {
				return
			}
			continue
		}
		if !ss.command(verb, strings.TrimSpace(arg)) {
			return
		}
	}
}

// command handles one command; false ends the session.
func (ss *smtpSession) command(verb, arg string) bool {
	switch verb {
	case "EHLO", "HELO":
		if arg == "" {
			ss.reply(501, "5.5.4 Syntax: "+verb+" hostname")
			return true
		}
		ss.hello = true
		ss.reset()
		if verb == "HELO" {
			ss.reply(250, "127.0.0.1")
			return true
		}
		lines := []string{"127.0.0.1 greets " + arg, "8BITMIME", fmt.Sprintf("SIZE %d", ss.s.maxSize)}
		if ss.s.startTLS && !ss.tls {
			lines = append(lines, "STARTTLS")
		}
		if ss.s.user != "" {
			lines = append(lines, "AUTH PLAIN LOGIN")
		}
		ss.reply(250, lines...)
	case "STARTTLS":
		if !ss.s.startTLS || ss.tls {
			ss.reply(502, "5.5.1 STARTTLS not available")
			return true
		}
		ss.reply(220, "2.0.0 Ready to start TLS")
		tc := tls.Server(ss.conn, &tls.Config{Certificates: []tls.Certificate{ss.s.cert}})
		if err := tc.Handshake(); err != nil {
			return false
		}
		// RFC 3207: the client starts over, with EHLO.
		*ss = smtpSession{s: ss.s, conn: tc, r: bufio.NewReader(tc), tls: true}
	case "AUTH":
		ss.authenticate(arg)
	case "MAIL":
		ss.mail(arg)
	case "RCPT":
		switch addr, ok := pathArg(arg, "TO:"); {
		case !ss.inTx:
			ss.reply(503, "5.5.1 Error: need MAIL command")
		case !ok || addr == "":
			ss.reply(501, "5.1.3 Bad recipient address syntax")
		case len(ss.rcpts) >= 100:
			ss.reply(452, "4.5.3 Too many recipients")
		default:
			ss.rcpts = append(ss.rcpts, addr)
			ss.reply(250, "2.1.5 Ok")
		}
	case "DATA":
		if len(ss.rcpts) == 0 {
			ss.reply(503, "5.5.1 Error: need RCPT command")
			return true
		}
		ss.reply(354, "End data with <CR><LF>.<CR><LF>")
		return ss.data()
	case "RSET":
		ss.reset()
		ss.reply(250, "2.0.0 Ok")
	case "NOOP":
		ss.reply(250, "2.0.0 Ok")
	case "QUIT":
		ss.reply(221, "2.0.0 Bye")
		return false
	default:
		ss.reply(500, "5.5.2 Command not recognized")
	}
	return true
}

func (ss *smtpSession) mail(arg string) {
	addr, ok := pathArg(arg, "FROM:")
	switch {
	case !ss.hello:
		ss.reply(503, "5.5.1 Error: send HELO/EHLO first")
	case ss.s.user != "" && ss.auth == "":
		ss.reply(530, "5.7.0 Authentication required")
	case ss.inTx:
		ss.reply(503, "5.5.1 Error: nested MAIL command")
	case !ok:
		ss.reply(501, "5.1.7 Bad sender address syntax")
	default:
		ss.inTx, ss.from, ss.rcpts = true, addr, nil
		ss.reply(250, "2.1.0 Ok")
	}
}

func (ss *smtpSession) authenticate(arg string) {
	mech, initial, _ := strings.Cut(arg, " ")
	if ss.s.user == "" {
		ss.reply(502, "5.5.1 AUTH not available")
		return
	}
	if ss.auth != "" || ss.inTx {
		ss.reply(503, "5.5.1 Error: AUTH not allowed now")
		return
	}
	var user, pass string
	switch strings.ToUpper(mech) {
	case "PLAIN":
		resp, ok := ss.challenge(initial, "")
		if !ok {
			return
		}
		parts := strings.Split(resp, "\x00")
		if len(parts) != 3 {
			ss.reply(501, "5.5.2 Malformed AUTH PLAIN response")
			return
		}
		user, pass = parts[1], parts[2]
	case "LOGIN":
		var ok bool
		if user, ok = ss.challenge(initial, "Username:"); !ok {
			return
		}
		if pass, ok = ss.challenge("", "Password:"); !ok {
			return
		}
	default:
		ss.reply(504, "5.5.4 Unrecognized authentication type")
		return
	}
	if user != ss.s.user || pass != ss.s.pass {
		ss.reply(535, "5.7.8 Authentication credentials invalid")
		return
	}
	ss.auth = user
	ss.reply(235, "2.7.0 Authentication successful")
}

// challenge returns the client's decoded answer: the initial response when
// given, or the line that follows a 334 with prompt.
func (ss *smtpSession) challenge(initial, prompt string) (string, bool) {
	if initial == "" {
		ss.reply(334, base64.StdEncoding.EncodeToString([]byte(prompt)))
		line, err := ss.readLine(4096)
		if err != nil {
			return "", false
		}
		initial = line
	}
	if initial == "*" {
		ss.reply(501, "5.7.0 Authentication cancelled")
		return "", false
	}
	b, err := base64.StdEncoding.DecodeString(initial)
	if err != nil {
		ss.reply(501, "5.5.2 Invalid base64")
		return "", false
	}
	return string(b), true
}

// data reads the message up to its terminating line, then accepts or
// refuses it; false ends the session.
func (ss *smtpSession) data() bool {
	var buf bytes.Buffer
	var tooLong, bareLF, tooBig bool
	for {
		line, err := ss.r.ReadString('\n')
		if err != nil {
			return false
		}
		if line == ".\r\n" || line == ".\n" {
			bareLF = bareLF || line == ".\n"
			break
		}
		tooLong = tooLong || len(line) > 1000
		bareLF = bareLF || !strings.HasSuffix(line, "\r\n")
		line = strings.TrimPrefix(line, ".") // dot-unstuffing (RFC 5321 4.5.2)
		if buf.Len()+len(line) > ss.s.maxSize {
			tooBig = true
			continue
		}
		buf.WriteString(line)
	}
	defer ss.reset()
	f, failed := ss.s.take(".")
	ss.s.hold(".")
	if failed {
		ss.reply(f.code, f.text)
		return f.code != 421
	}
	switch {
	case tooBig:
		ss.reply(552, "5.3.4 Message too big")
		return true
	case tooLong:
		ss.reply(500, "5.5.0 Message line longer than 1000 octets")
		return true
	case bareLF:
		ss.reply(550, "5.6.0 Bare LF in message")
		return true
	}
	m, err := parseMail(buf.Bytes())
	if err != nil {
		ss.reply(554, "5.6.0 "+err.Error())
		return true
	}
	m.From, m.To, m.Auth, m.TLS = ss.from, ss.rcpts, ss.auth, ss.tls
	ss.s.record(m)
	ss.reply(250, "2.0.0 Ok: queued")
	return true
}

func (ss *smtpSession) reset() { ss.inTx, ss.from, ss.rcpts = false, "", nil }

// reply writes a (multi-line) reply.
func (ss *smtpSession) reply(code int, lines ...string) {
	var b strings.Builder
	for i, l := range lines {
		sep := "-"
		if i == len(lines)-1 {
			sep = " "
		}
		fmt.Fprintf(&b, "%d%s%s\r\n", code, sep, l)
	}
	_, _ = io.WriteString(ss.conn, b.String())
}

// readLine reads a command line without its CRLF, at most max octets.
func (ss *smtpSession) readLine(max int) (string, error) {
	var line []byte
	for {
		chunk, err := ss.r.ReadSlice('\n')
		line = append(line, chunk...)
		if err == nil {
			break
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return "", err
		}
	}
	if len(line) > max {
		return "", errLineTooLong
	}
	return strings.TrimRight(string(line), "\r\n"), nil
}

// pathArg parses "FROM:<addr> PARAMS" (or "TO:"); addr may be empty (<>).
func pathArg(arg, prefix string) (string, bool) {
	if len(arg) < len(prefix) || !strings.EqualFold(arg[:len(prefix)], prefix) {
		return "", false
	}
	rest := strings.TrimSpace(arg[len(prefix):])
	if !strings.HasPrefix(rest, "<") {
		return "", false
	}
	addr, _, ok := strings.Cut(rest[1:], ">")
	if !ok || strings.ContainsAny(addr, " <>") {
		return "", false
	}
	return addr, true
}

// parseMail reads the headers and decoded bodies of a message.
func parseMail(data []byte) (Mail, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		return Mail{}, fmt.Errorf("unreadable message: %w", err)
	}
	m := Mail{Data: data, Header: msg.Header}
	if m.Subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject")); err != nil {
		return Mail{}, fmt.Errorf("subject: %w", err)
	}
	err = m.readBody(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body)
	return m, err
}

func (m *Mail) readBody(contentType, encoding string, body io.Reader) error {
	mediaType, params := "text/plain", map[string]string{}
	if contentType != "" {
		var err error
		if mediaType, params, err = mime.ParseMediaType(contentType); err != nil {
			return fmt.Errorf("content-type: %w", err)
		}
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		r := multipart.NewReader(body, params["boundary"])
		for {
			p, err := r.NextRawPart()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("multipart: %w", err)
			}
			if err := m.readBody(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p); err != nil {
				return err
			}
		}
	}
	switch strings.ToLower(encoding) {
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, body)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return fmt.Errorf("body (%s): %w", encoding, err)
	}
	text := strings.ReplaceAll(string(b), "\r\n", "\n")
	switch mediaType {
	case "text/plain":
		m.Text = text
	case "text/html":
		m.HTML = text
	}
	return nil
}

var (
	firstURL  = regexp.MustCompile(`https?://[^\s<>"]+`)
	firstCode = regexp.MustCompile(`\b[0-9]{6}\b`)
)

// URL returns the first http(s) URL of the text body, or "".
func (m Mail) URL() string { return firstURL.FindString(m.Text) }

// Code returns the first six-digit code of the text body, or "".
func (m Mail) Code() string { return firstCode.FindString(m.Text) }

// selfSigned makes a certificate for 127.0.0.1 and localhost, and a pool
// that trusts it.
func selfSigned() (tls.Certificate, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "testkit smtp"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool, nil
}
