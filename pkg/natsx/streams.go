package natsx

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// The streams of the architecture (docs/architecture.md, Events).
const (
	StreamIngest  = "IHR_INGEST"
	StreamResults = "IHR_RESULTS"
	StreamTasks   = "IHR_TASKS"
	StreamDLQ     = "IHR_DLQ"
	StreamAuth    = "IHR_AUTH"
)

// Streams returns the configuration of every IHR stream in b's namespace,
// each kept by IHR_NATS_REPLICAS servers. Only settings the 2.9 servers
// know are used.
func (b *Bus) Streams() []jetstream.StreamConfig {
	const day = 24 * time.Hour
	streams := []jetstream.StreamConfig{{
		Name:        b.StreamName(StreamIngest),
		Description: "Measurement results published by pipelines, bin by bin",
		Subjects:    []string{b.Subject("ihr.ingest.>")},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		MaxAge:      7 * day,
		Duplicates:  2 * time.Hour, // Nats-Msg-Id = dataset:af:timebin:run_id:batch_seq
	}, {
		Name:        b.StreamName(StreamResults),
		Description: "Announcements of committed results (never the rows)",
		Subjects:    []string{b.Subject("ihr.results.>")},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		MaxAge:      14 * day,
		// A commit whose message comes back (a crash before its ack) is
		// announced again: the same id, dropped within this window.
		Duplicates: 2 * time.Hour,
	}, {
		Name:        b.StreamName(StreamTasks),
		Description: "Background tasks (e-mails, notifications), each done once",
		Subjects:    []string{b.Subject("ihr.tasks.>")},
		Retention:   jetstream.WorkQueuePolicy,
		Storage:     jetstream.FileStorage,
		MaxAge:      7 * day,
		Duplicates:  2 * time.Hour, // Nats-Msg-Id = the task id: a retried publish is one task
	}, {
		Name:        b.StreamName(StreamDLQ),
		Description: "Messages that failed for good, with the reason",
		Subjects:    []string{b.Subject("ihr.dlq.>")},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		MaxAge:      30 * day,
	}, {
		Name:        b.StreamName(StreamAuth),
		Description: "Auth changes the gateway must apply (revoked keys, role changes)",
		Subjects:    []string{b.Subject("ihr.auth.>")},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		MaxAge:      7 * day,
	}}
	for i := range streams {
		streams[i].Replicas = b.replicas
	}
	return streams
}

// EnsureStreams creates the IHR streams or updates them to the current
// configuration; running it again changes nothing.
func (b *Bus) EnsureStreams(ctx context.Context) error {
	for _, sc := range b.Streams() {
		if _, err := b.JS.CreateOrUpdateStream(ctx, sc); err != nil {
			return fmt.Errorf("stream %s: %w", sc.Name, err)
		}
	}
	return nil
}
