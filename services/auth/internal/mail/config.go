package mail

import (
	"cmp"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	"net/url"
	"time"

	"github.com/ihr-go/ihr/pkg/config"
)

// DefaultFrom is the sender of every mail unless IHR_MAIL_FROM says otherwise.
const DefaultFrom = "IHR <no-reply@ihr.live>"

// Config is how the Sender reaches the SMTP server and paces its work.
type Config struct {
	// URL is the SMTP server (IHR_SMTP_URL):
	//   - smtp://[user:pass@]host[:port]: port 587 by default; STARTTLS
	//     whenever the server offers it, and with ?starttls=required the
	//     Sender refuses to go on in plain text;
	//   - smtps://[user:pass@]host[:port]: TLS from the start, port 465 by default.
	// With credentials the Sender authenticates with AUTH PLAIN, which it
	// only does over TLS (or to a server on the loopback interface).
	// Empty: in dev mode mails are logged instead of sent; elsewhere they
	// wait in the queue, and readiness reports SMTP down.
	URL string
	// From is the From header and the envelope sender (IHR_MAIL_FROM).
	From string
	// Workers is how many mails are sent at once (IHR_MAIL_WORKERS).
	Workers int
	// AckWait is how long a task a crashed instance held waits before it
	// is delivered again (IHR_MAIL_ACK_WAIT); sending keeps it with InProgress.
	AckWait time.Duration
	// Timeout bounds one SMTP session, connection to QUIT (IHR_SMTP_TIMEOUT).
	Timeout time.Duration
	// BackoffMin and BackoffMax bound the delay before a failed task is
	// tried again: BackoffMin, doubled at each attempt up to BackoffMax
	// (IHR_MAIL_BACKOFF_MIN, IHR_MAIL_BACKOFF_MAX).
	BackoffMin, BackoffMax time.Duration
	// RetryFor is how long a task that keeps failing for a transient cause
	// is retried before it is dead-lettered (IHR_MAIL_RETRY_FOR). It must
	// stay below the IHR_TASKS stream's MaxAge (7 days), which would drop it.
	RetryFor time.Duration
	// TLS, when set, is the base of the TLS client configuration (tests
	// trust their server's certificate with it); nil: the system's roots.
	TLS *tls.Config
	// Err is an invalid IHR_SMTP_URL or IHR_MAIL_FROM; NewSender returns it.
	Err error
}

// ReadConfig reads the mail settings: IHR_SMTP_URL, IHR_MAIL_FROM,
// IHR_MAIL_WORKERS, IHR_MAIL_ACK_WAIT, IHR_SMTP_TIMEOUT,
// IHR_MAIL_BACKOFF_MIN, IHR_MAIL_BACKOFF_MAX and IHR_MAIL_RETRY_FOR.
func ReadConfig(e *config.Env) Config {
	d := defaultConfig()
	c := Config{
		URL:        e.String("IHR_SMTP_URL", ""),
		From:       e.String("IHR_MAIL_FROM", d.From),
		Workers:    e.Int("IHR_MAIL_WORKERS", d.Workers, 1, 64),
		AckWait:    e.Duration("IHR_MAIL_ACK_WAIT", d.AckWait, time.Second, 10*time.Minute),
		Timeout:    e.Duration("IHR_SMTP_TIMEOUT", d.Timeout, time.Second, 10*time.Minute),
		BackoffMin: e.Duration("IHR_MAIL_BACKOFF_MIN", d.BackoffMin, 10*time.Millisecond, time.Hour),
		BackoffMax: e.Duration("IHR_MAIL_BACKOFF_MAX", d.BackoffMax, 10*time.Millisecond, 6*time.Hour),
		RetryFor:   e.Duration("IHR_MAIL_RETRY_FOR", d.RetryFor, time.Minute, 6*24*time.Hour),
	}
	_, _, c.Err = c.parse()
	return c
}

func defaultConfig() Config {
	return Config{From: DefaultFrom, Workers: 2, AckWait: 30 * time.Second, Timeout: time.Minute,
		BackoffMin: 10 * time.Second, BackoffMax: 5 * time.Minute, RetryFor: 24 * time.Hour}
}

// withDefaults fills the fields left at zero (a Config built in code).
func (c Config) withDefaults() Config {
	d := defaultConfig()
	c.From = cmp.Or(c.From, d.From)
	c.Workers = cmp.Or(max(c.Workers, 0), d.Workers)
	c.AckWait = cmp.Or(c.AckWait, d.AckWait)
	c.Timeout = cmp.Or(c.Timeout, d.Timeout)
	c.BackoffMin = cmp.Or(c.BackoffMin, d.BackoffMin)
	c.BackoffMax = cmp.Or(c.BackoffMax, d.BackoffMax)
	c.RetryFor = cmp.Or(c.RetryFor, d.RetryFor)
	return c
}

// parse checks the configuration and returns the SMTP server (nil when
// URL is empty) and the sender's address.
func (c Config) parse() (*server, *mail.Address, error) {
	var errs []error
	var srv *server
	if c.URL != "" {
		var err error
		if srv, err = parseServer(c.URL); err != nil {
			errs = append(errs, fmt.Errorf("invalid IHR_SMTP_URL=%q: %w", config.Redact(c.URL), err))
		}
	}
	from, err := parseAddress(c.From)
	if err != nil {
		errs = append(errs, fmt.Errorf("invalid IHR_MAIL_FROM=%q: %w", c.From, err))
	}
	if c.BackoffMin > c.BackoffMax {
		errs = append(errs, fmt.Errorf("IHR_MAIL_BACKOFF_MIN (%s) is above IHR_MAIL_BACKOFF_MAX (%s)", c.BackoffMin, c.BackoffMax))
	}
	return srv, from, errors.Join(errs...)
}

// LogValue shows the configuration without the SMTP password.
func (c Config) LogValue() slog.Value {
	smtpURL := config.Redact(c.URL)
	if smtpURL == "" {
		smtpURL = "(none)"
	}
	return slog.GroupValue(slog.String("smtp_url", smtpURL), slog.String("from", c.From),
		slog.Int("workers", c.Workers), slog.Duration("retry_for", c.RetryFor))
}

// server is a parsed IHR_SMTP_URL.
type server struct {
	host        string
	addr        string // host:port
	implicitTLS bool
	requireTLS  bool
	user, pass  string
}

func parseServer(raw string) (*server, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("not a URL")
	}
	s := &server{host: u.Hostname()}
	port := u.Port()
	switch u.Scheme {
	case "smtp":
		port = cmp.Or(port, "587")
	case "smtps":
		port, s.implicitTLS, s.requireTLS = cmp.Or(port, "465"), true, true
	default:
		return nil, errors.New("scheme must be smtp or smtps")
	}
	if s.host == "" {
		return nil, errors.New("missing host")
	}
	if u.Path != "" && u.Path != "/" {
		return nil, errors.New("no path expected")
	}
	s.addr = net.JoinHostPort(s.host, port)
	if u.User != nil {
		s.user = u.User.Username()
		s.pass, _ = u.User.Password()
	}
	for k, v := range u.Query() {
		switch {
		case k == "starttls" && u.Scheme == "smtp" && len(v) == 1 && (v[0] == "auto" || v[0] == "required"):
			s.requireTLS = v[0] == "required"
		case k == "starttls":
			return nil, errors.New("starttls is auto or required, with smtp:// only")
		default:
			return nil, fmt.Errorf("unknown parameter %q", k)
		}
	}
	return s, nil
}
