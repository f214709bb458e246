package mail

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/ihr-go/ihr/pkg/natsx"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/propagation"
)

// Queue stores mail tasks in the IHR_TASKS work queue for a Sender.
type Queue struct {
	Bus *natsx.Bus
	// Propagator, when set, carries the caller's trace into the task's headers.
	Propagator propagation.TextMapPropagator
}

// Enqueue validates t and publishes it on TaskSubject, returning once
// JetStream has stored it. An empty Schema is set to Schema, an empty ID to
// a new one; the id is returned. Retry a failed Enqueue with that id: the
// stream drops a task published twice within its de-duplication window.
// An invalid task is refused with an *events.Invalid error.
func (q *Queue) Enqueue(ctx context.Context, t Task) (string, error) {
	if t.Schema == "" {
		t.Schema = Schema
	}
	if t.ID == "" {
		t.ID = NewID()
	}
	if err := t.Validate(); err != nil {
		return "", err
	}
	data, err := json.Marshal(t)
	if err != nil {
		return "", err
	}
	msg := &nats.Msg{Subject: q.Bus.Subject(TaskSubject), Data: data, Header: nats.Header{}}
	msg.Header.Set(jetstream.MsgIDHeader, t.ID)
	if q.Propagator != nil {
		natsx.Inject(ctx, q.Propagator, msg)
	}
	if _, err := q.Bus.JS.PublishMsg(ctx, msg); err != nil {
		return t.ID, fmt.Errorf("enqueue mail %s: %w", t.ID, err)
	}
	return t.ID, nil
}
