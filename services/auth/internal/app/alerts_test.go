package app

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ihr-go/ihr/pkg/events"
)

// alertStore holds the alarms of one bin, all new.
type alertStore struct {
	Store
	alarms  []Alarm
	alerted map[int64]int
}

func (s *alertStore) MonitoredAlarms(context.Context, string, int, time.Time) ([]Alarm, error) {
	return s.alarms, nil
}

func (s *alertStore) Unalerted(_ context.Context, _ int64, ids []string) ([]string, error) {
	return ids, nil
}

func (s *alertStore) MarkAlerted(_ context.Context, user int64, ids []string) error {
	s.alerted[user] += len(ids)
	return nil
}

// mailQueue refuses, as the real one, an address it cannot send to and a
// body over 256 KiB: an invalid task.
type mailQueue struct{ sent []Mail }

func (q *mailQueue) Send(_ context.Context, m Mail) error {
	if strings.HasPrefix(m.To, "bad") || len(m.Text) > 256<<10 {
		return &events.Invalid{Reason: "unsendable"}
	}
	q.sent = append(q.sent, m)
	return nil
}

// A bin with thousands of alarms gives a digest the mail queue takes, and
// a user whose mail can never be sent does not stop the others' mails.
func TestAlertDigestsAlwaysGo(t *testing.T) {
	st := &alertStore{alerted: map[int64]int{}}
	for i := range 5000 {
		st.alarms = append(st.alarms, Alarm{UserID: 1, Email: "bad@例え.jp", ASN: 2497, Level: 0, What: strings.Repeat("x", 500), Deviation: 60, ID: fmt.Sprint("a", i)})
	}
	for i := range 5000 {
		st.alarms = append(st.alarms, Alarm{UserID: 2, Email: "ops@example.org", ASN: 2497, Level: 0, What: strings.Repeat("y", 500), Deviation: 60, ID: fmt.Sprint("a", i)})
	}
	q := &mailQueue{}
	s := &Service{Store: st, Mail: q, Log: slog.New(slog.DiscardHandler)}
	if err := s.Alert(context.Background(), &events.Result{Bin: events.Bin{Dataset: events.HegemonyAlarms.Name, AF: 4, Timebin: time.Unix(0, 0)}}); err != nil {
		t.Fatalf("Alert: %v", err)
	}
	if len(q.sent) != 1 || q.sent[0].To != "ops@example.org" || !strings.Contains(q.sent[0].Text, "and 4800 more") {
		t.Fatalf("mails sent: %d", len(q.sent))
	}
	if st.alerted[1] != 5000 || st.alerted[2] != 5000 {
		t.Errorf("alarms marked as mailed: %v", st.alerted)
	}
}
