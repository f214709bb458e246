package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ihr-go/ihr/pkg/events"
)

// Alarm is an alarm that concerns a network a user monitors.
type Alarm struct {
	UserID int64
	Email  string
	// Level is the user's notify level for the network.
	Level     int
	ASN       int64
	What      string // what happened, for the mail
	Deviation float64
	// ID names the alarm whatever run of its bin reported it, so that a
	// re-run does not mail it again.
	ID string
}

// AlarmDatasets are the datasets whose alarms are mailed.
var AlarmDatasets = []string{events.HegemonyAlarms.Name, events.AtlasDelayAlarms.Name}

// Severity is an alarm's severity on the notify levels' scale: 0 (low)
// under a deviation of 20 (the website's own threshold), 5 (moderate) up
// to 50, 10 (high) beyond, whatever its sign.
func Severity(deviation float64) int {
	switch d := math.Abs(deviation); {
	case d >= 50:
		return 10
	case d >= 20:
		return 5
	}
	return 0
}

// Alert mails each user, in one digest per results event, the alarms of
// its bin that concern a network they monitor at a severity at or above
// their notify level. An alarm mailed once is not mailed again, and a
// redelivered event queues the same mail (its id de-duplicates it).
func (s *Service) Alert(ctx context.Context, res *events.Result) error {
	if !slices.Contains(AlarmDatasets, res.Dataset) {
		return nil
	}
	alarms, err := s.Store.MonitoredAlarms(ctx, res.Dataset, res.AF, res.Timebin)
	if err != nil {
		return err
	}
	byUser := map[int64][]Alarm{}
	var users []int64
	for _, a := range alarms {
		if Severity(a.Deviation) < a.Level {
			continue
		}
		if byUser[a.UserID] == nil {
			users = append(users, a.UserID)
		}
		byUser[a.UserID] = append(byUser[a.UserID], a)
	}
	for _, u := range users {
		if err := s.alertUser(ctx, res, byUser[u]); err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) alertUser(ctx context.Context, res *events.Result, alarms []Alarm) error {
	ids := make([]string, len(alarms))
	for i, a := range alarms {
		ids[i] = a.ID
	}
	fresh, err := s.Store.Unalerted(ctx, alarms[0].UserID, ids)
	if err != nil || len(fresh) == 0 {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "New %s for the networks you monitor, time bin %s UTC:\n\n", strings.ReplaceAll(res.Dataset, "_", " "),
		res.Timebin.UTC().Format(time.DateTime))
	h := sha256.New()
	listed := map[string]bool{}
	for _, a := range alarms { // an alarm of two monitored networks comes twice
		if slices.Contains(fresh, a.ID) && !listed[a.ID] {
			if len(listed) < maxDigest {
				fmt.Fprintf(&b, "- %s (deviation %.1f)\n", clip(a.What, maxWhat), a.Deviation)
			}
			listed[a.ID] = true
			h.Write([]byte(a.ID + "\n"))
		}
	}
	if len(listed) > maxDigest {
		fmt.Fprintf(&b, "- and %d more, on https://ihr.live\n", len(listed)-maxDigest)
	}
	b.WriteString("\nYou get these mails for the networks and levels you chose in your IHR account.\n")
	u := alarms[0]
	err = s.Mail.Send(ctx, Mail{ID: "alert:" + strconv.FormatInt(u.UserID, 10) + ":" + hex.EncodeToString(h.Sum(nil)[:12]), Kind: "alert", To: u.Email,
		Subject: fmt.Sprintf("IHR: %d new alarms for the networks you monitor", len(fresh)), Text: b.String()})
	if events.IsInvalid(err) {
		// This mail can never be sent (the address is one the mail queue
		// refuses): retrying the event would stop every other user's.
		s.Log.WarnContext(ctx, "alert mail refused, skipped", "user", u.UserID, "err", err)
	} else if err != nil {
		return err
	}
	return s.Store.MarkAlerted(ctx, u.UserID, fresh)
}

// A digest lists at most maxDigest alarms, each said in at most maxWhat
// bytes: far below what a mail task may hold (256 KiB).
const (
	maxDigest = 200
	maxWhat   = 300
)

// clip cuts s to at most n bytes, on a character boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
