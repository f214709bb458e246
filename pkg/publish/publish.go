// Package publish sends a bin the way every producer must: its rows in
// batches, then the bin message, each with its de-duplication id, waiting for
// JetStream to store each one. ihrctl, the HTTP ingest endpoint and tests
// share it.
package publish

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/ihr-go/ihr/pkg/events"
	"github.com/ihr-go/ihr/pkg/natsx"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Receipt is what JetStream answered for one message.
type Receipt struct {
	Subject   string `json:"subject"`
	MsgID     string `json:"msg_id"`
	Stream    string `json:"stream"`
	Sequence  uint64 `json:"seq"`
	Duplicate bool   `json:"duplicate"`
}

// Publisher publishes bins on a bus.
type Publisher struct {
	Bus *natsx.Bus
	// Tracer, when set, makes a span of each message published (in the
	// trace of the caller's context, which Propagator carries on).
	Tracer     trace.Tracer
	Propagator propagation.TextMapPropagator
	Producer   events.Producer
	// BatchRows is the number of rows per batch (events.MaxBatchRows when 0).
	BatchRows int
}

// Bin publishes one bin: its rows (a slice of the dataset's row type) in
// batches, then bin_complete.
func (p *Publisher) Bin(ctx context.Context, bin events.Bin, rows any) ([]Receipt, error) {
	size := p.BatchSize(bin.Dataset)
	rv := reflect.ValueOf(rows)
	var receipts []Receipt
	seq := 0
	for start := 0; start < rv.Len() || seq == 0; start += size {
		r, err := p.Batch(ctx, bin, seq, rv.Slice(start, min(start+size, rv.Len())).Interface())
		if err != nil {
			return receipts, err
		}
		receipts = append(receipts, r)
		seq++
	}
	r, err := p.Complete(ctx, bin, seq, rv.Len())
	return append(receipts, r), err
}

// BatchSize is the number of rows per batch of a dataset: BatchRows, at
// most what keeps its messages under events.MaxBatchBytes.
func (p *Publisher) BatchSize(dataset string) int {
	most := events.MaxBatchRows
	if d, ok := events.Lookup(dataset); ok {
		most = d.BatchRows()
	}
	if p.BatchRows <= 0 || p.BatchRows > most {
		return most
	}
	return p.BatchRows
}

// Batch publishes batch seq of a bin: rows is a slice of the dataset's row
// type, at most BatchRows long.
func (p *Publisher) Batch(ctx context.Context, bin events.Bin, seq int, rows any) (Receipt, error) {
	return p.send(ctx, events.RowsSubject(bin.Dataset), bin.MsgID(seq), struct {
		events.BatchHeader
		Rows any `json:"rows"`
	}{events.BatchHeader{Schema: events.SchemaRows, Bin: bin, Producer: p.Producer, BatchSeq: seq}, rows})
}

// Complete publishes the bin message: the bin is batches batches, rows rows.
func (p *Publisher) Complete(ctx context.Context, bin events.Bin, batches, rows int) (Receipt, error) {
	return p.send(ctx, events.BinSubject(bin.Dataset), bin.MsgID(-1), events.BinComplete{
		Schema: events.SchemaBin, Bin: bin, Producer: p.Producer, BatchCount: batches, RowCount: rows})
}

// Disco publishes a disco event change.
func (p *Publisher) Disco(ctx context.Context, e events.DiscoEvent) (Receipt, error) {
	e.Schema, e.Producer = events.SchemaDisco, p.Producer
	data, err := json.Marshal(e)
	if err != nil {
		return Receipt{}, err
	}
	return p.sendData(ctx, events.DiscoSubject(), e.MsgID(data), data)
}

// Names publishes a names update.
func (p *Publisher) Names(ctx context.Context, u events.NamesUpdate) (Receipt, error) {
	u.Schema, u.Producer = events.SchemaNames, p.Producer
	data, err := json.Marshal(u)
	if err != nil {
		return Receipt{}, err
	}
	return p.sendData(ctx, events.NamesSubject(), events.NamesMsgID(data), data)
}

func (p *Publisher) send(ctx context.Context, subject, id string, v any) (Receipt, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return Receipt{}, err
	}
	return p.sendData(ctx, subject, id, data)
}

func (p *Publisher) sendData(ctx context.Context, subject, id string, data []byte) (Receipt, error) {
	msg := &nats.Msg{Subject: p.Bus.Subject(subject), Data: data, Header: nats.Header{}}
	msg.Header.Set(jetstream.MsgIDHeader, id)
	ack, err := natsx.Publish(ctx, p.Bus.JS, p.Tracer, p.Propagator, msg)
	if err != nil {
		return Receipt{}, fmt.Errorf("publish %s: %w", id, err)
	}
	return Receipt{Subject: msg.Subject, MsgID: id, Stream: ack.Stream, Sequence: ack.Sequence, Duplicate: ack.Duplicate}, nil
}
