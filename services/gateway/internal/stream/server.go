package stream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/ihr-go/ihr/pkg/apierr"
	"github.com/ihr-go/ihr/pkg/authn"
	"github.com/ihr-go/ihr/pkg/httpx"
)

// Server answers subscriptions: GET /ihr/api/stream (SSE) and GET
// /ihr/api/ws (WebSocket), behind the gateway's authentication.
type Server struct {
	Hub    *Hub
	Config Config
	// Verifier checks a subscriber's credential again every Config.Recheck.
	Verifier authn.Verifier
	// Done closes when the gateway stops: every stream ends then.
	Done    <-chan struct{}
	Metrics *Metrics
	Log     *slog.Logger

	mu    sync.Mutex
	open  map[string]int // streams per client
	total int
}

// Permission is what a subscription needs.
const Permission = authn.Stream

// subscription is a checked request to subscribe.
type subscription struct {
	filter  Filter
	resume  Resume
	client  string
	recheck func(context.Context) error
}

// begin checks a subscription request and takes a slot for it, or answers
// the error and returns nil.
func (s *Server) begin(w http.ResponseWriter, r *http.Request) (*subscription, func()) {
	f, res, err := Parse(r.URL.Query(), r.Header.Get("Last-Event-ID"))
	if err != nil {
		apierr.Write(w, apierr.New(apierr.Invalid, "invalid_parameter", err.Error()))
		return nil, nil
	}
	if first, _ := s.Hub.bounds(); first == 0 {
		apierr.Write(w, apierr.New(apierr.Unavailable, "stream_unavailable", "The results stream is not reachable now; connect again later"))
		return nil, nil
	}
	p := authn.FromContext(r.Context())
	client := p.Subject
	if client == "" {
		client, _, _ = net.SplitHostPort(r.RemoteAddr)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.total >= s.Config.Total:
		apierr.Write(w, apierr.New(apierr.Unavailable, "too_many_streams", "The gateway serves as many streams as it can; connect again later"))
		return nil, nil
	case s.open[client] >= s.Config.PerClient:
		w.Header().Set("Retry-After", "10")
		apierr.Write(w, apierr.New(apierr.RateLimited, "too_many_streams",
			fmt.Sprintf("At most %d streams at once per client; close one first", s.Config.PerClient)))
		return nil, nil
	}
	if s.open == nil {
		s.open = map[string]int{}
	}
	s.open[client]++
	s.total++
	if c, ok := httpx.Conn(r.Context()).(*net.TCPConn); ok && s.Config.SocketBuffer > 0 {
		_ = c.SetWriteBuffer(s.Config.SocketBuffer)
	}
	_, cred, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	sub := &subscription{filter: f, resume: res, client: client, recheck: s.recheckOf(strings.TrimSpace(cred))}
	return sub, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.open[client]--; s.open[client] == 0 {
			delete(s.open, client)
		}
		s.total--
	}
}

// recheckOf verifies cred again; a verifier that cannot tell (the auth
// service down) keeps the stream open.
func (s *Server) recheckOf(cred string) func(context.Context) error {
	return func(ctx context.Context) error {
		if cred == "" {
			return nil // anonymous, when the permission table lets it in
		}
		p, err := s.Verifier.Verify(ctx, cred)
		switch {
		case errors.Is(err, authn.ErrUnavailable):
			return nil
		case err != nil:
			return &Closed{Code: "credentials_refused", Message: "the credentials are no longer valid (revoked or expired)", cause: err}
		case !p.Can(Permission):
			return &Closed{Code: "forbidden", Message: "the credentials no longer allow streams"}
		}
		return nil
	}
}

// context is the request's context, also done when the gateway stops.
func (s *Server) context(r *http.Request) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(r.Context())
	go func() {
		select {
		case <-s.Done:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// end records how a stream ended and logs it.
func (s *Server) end(ctx context.Context, transport string, sub *subscription, err error) {
	reason := "client_left"
	var c *Closed
	switch {
	case errors.As(err, &c):
		reason = c.Code
	case err != nil:
		reason = "error"
	case ctx.Err() != nil && s.stopping():
		reason = "shutdown"
	}
	s.Metrics.closed(ctx, transport, reason)
	s.Log.InfoContext(ctx, "stream closed", "transport", transport, "client", sub.client, "reason", reason, "err", err)
}

func (s *Server) stopping() bool {
	select {
	case <-s.Done:
		return true
	default:
		return false
	}
}

// SSE serves a subscription as Server-Sent Events.
func (s *Server) SSE(w http.ResponseWriter, r *http.Request) {
	sub, release := s.begin(w, r)
	if sub == nil {
		return
	}
	defer release()
	ctx, cancel := s.context(r)
	defer cancel()
	rc := http.NewResponseController(w)
	// The server's read and write timeouts are for requests, not streams:
	// each write gets its own deadline instead.
	_ = rc.SetReadDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // no buffering in nginx in front
	sink := &sseSink{w: w, rc: rc, timeout: s.Config.WriteTimeout, metrics: s.Metrics}
	w.WriteHeader(http.StatusOK)
	if err := sink.write(ctx, "retry: 3000\n\n"); err != nil {
		return
	}
	s.Metrics.opened(ctx, "sse")
	err := s.Hub.Serve(ctx, s.Config, sub.filter, sub.resume, sink, sub.recheck)
	var c *Closed
	if errors.As(err, &c) {
		_ = sink.write(ctx, "event: close\ndata: "+closeJSON(c)+"\n\n")
	}
	s.end(ctx, "sse", sub, err)
}

type sseSink struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
	metrics *Metrics
}

func (k *sseSink) write(_ context.Context, s string) error {
	if err := k.rc.SetWriteDeadline(time.Now().Add(k.timeout)); err != nil {
		return err
	}
	if _, err := k.w.Write([]byte(s)); err != nil {
		return err
	}
	return k.rc.Flush()
}

func (k *sseSink) Event(ctx context.Context, e *Event) error {
	if err := k.write(ctx, "id: "+strconv.FormatUint(e.Seq, 10)+"\nevent: result\ndata: "+string(e.Data)+"\n\n"); err != nil {
		return err
	}
	k.metrics.sent(ctx, "sse")
	return nil
}

func (k *sseSink) Gap(ctx context.Context, from, to uint64) error {
	return k.write(ctx, "event: gap\ndata: "+gapJSON(from, to)+"\n\n")
}

func (k *sseSink) Heartbeat(ctx context.Context, head uint64) error {
	return k.write(ctx, ": heartbeat "+strconv.FormatUint(head, 10)+"\n\n")
}

// WS serves a subscription over WebSocket: JSON text messages of type
// result, gap and heartbeat; the close frame says why the gateway ended it.
func (s *Server) WS(w http.ResponseWriter, r *http.Request) {
	sub, release := s.begin(w, r)
	if sub == nil {
		return
	}
	defer release()
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{}) // kept by the hijacked connection
	_ = rc.SetWriteDeadline(time.Time{})
	// Origins are not checked: streams need a credential in a header, which
	// a page of another site cannot make a browser send.
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true, CompressionMode: websocket.CompressionDisabled})
	if err != nil {
		return // Accept answered
	}
	ctx, cancel := s.context(r)
	defer cancel()
	ctx = conn.CloseRead(ctx) // subscribers send nothing; control frames are handled
	s.Metrics.opened(ctx, "ws")
	err = s.Hub.Serve(ctx, s.Config, sub.filter, sub.resume, &wsSink{conn: conn, timeout: s.Config.WriteTimeout, metrics: s.Metrics}, sub.recheck)
	var c *Closed
	switch {
	case errors.As(err, &c):
		status := websocket.StatusPolicyViolation
		if c.Code == "unavailable" {
			status = websocket.StatusTryAgainLater
		}
		_ = conn.Close(status, closeReason(c))
	case s.stopping():
		_ = conn.Close(websocket.StatusGoingAway, "the gateway is stopping; connect again")
	default:
		_ = conn.CloseNow()
	}
	s.end(ctx, "ws", sub, err)
}

type wsSink struct {
	conn    *websocket.Conn
	timeout time.Duration
	metrics *Metrics
}

func (k *wsSink) write(ctx context.Context, msg []byte) error {
	ctx, cancel := context.WithTimeout(ctx, k.timeout)
	defer cancel()
	return k.conn.Write(ctx, websocket.MessageText, msg)
}

func (k *wsSink) Event(ctx context.Context, e *Event) error {
	msg := make([]byte, 0, len(e.Data)+48)
	msg = append(msg, `{"type":"result","seq":`...)
	msg = strconv.AppendUint(msg, e.Seq, 10)
	msg = append(msg, `,"event":`...)
	msg = append(append(msg, e.Data...), '}')
	if err := k.write(ctx, msg); err != nil {
		return err
	}
	k.metrics.sent(ctx, "ws")
	return nil
}

func (k *wsSink) Gap(ctx context.Context, from, to uint64) error {
	return k.write(ctx, []byte(`{"type":"gap",`+gapJSON(from, to)[1:]))
}

func (k *wsSink) Heartbeat(ctx context.Context, head uint64) error {
	return k.write(ctx, []byte(`{"type":"heartbeat","seq":`+strconv.FormatUint(head, 10)+`}`))
}

func gapJSON(from, to uint64) string {
	return `{"from":` + strconv.FormatUint(from, 10) + `,"to":` + strconv.FormatUint(to, 10) + `}`
}

func closeJSON(c *Closed) string {
	b, _ := json.Marshal(map[string]string{"error": c.Code, "message": c.Message})
	return string(b)
}

// closeReason fits a close frame's 123 bytes.
func closeReason(c *Closed) string {
	reason := c.Code + ": " + c.Message
	if len(reason) > 123 {
		reason = reason[:123]
	}
	return reason
}
