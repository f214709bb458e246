// Package httpingest lets pipelines that cannot speak NATS publish a bin
// over HTTP: POST /ihr/api/ingest/{dataset} takes one bin per request,
// validates it whole, and publishes it as batches plus the bin message, as
// any producer would. The answer (202) lists what JetStream stored.
package httpingest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"time"

	"github.com/ihr-go/ihr/pkg/apierr"
	"github.com/ihr-go/ihr/pkg/events"
	"github.com/ihr-go/ihr/pkg/publish"
)

// Handler serves the ingest endpoints.
type Handler struct {
	Publisher *publish.Publisher
	MaxBody   int64
}

// header is a bin's identity, sent with its rows as one JSON document.
type header struct {
	AF       int             `json:"af"`
	Timebin  time.Time       `json:"timebin"`
	Part     string          `json:"part,omitempty"`
	RunID    string          `json:"run_id"`
	Producer events.Producer `json:"producer"`
}

// body is a decoded bin: rows is a slice of the dataset's row type.
type body struct {
	header
	rows reflect.Value
}

// Accepted is the 202 answer.
type Accepted struct {
	Dataset  string            `json:"dataset"`
	Part     string            `json:"part,omitempty"`
	AF       int               `json:"af"`
	Timebin  time.Time         `json:"timebin"`
	RunID    string            `json:"run_id"`
	Rows     int               `json:"rows"`
	Messages []publish.Receipt `json:"messages"`
}

// Routes registers the endpoints on mux.
func (h *Handler) Routes(mux *http.ServeMux) {
	mux.HandleFunc("POST /ihr/api/ingest/{dataset}", h.ingest)
	mux.HandleFunc("POST /ihr/api/ingest/{dataset}/", h.ingest)
}

func (h *Handler) ingest(w http.ResponseWriter, r *http.Request) {
	d, ok := events.Lookup(r.PathValue("dataset"))
	if !ok {
		apierr.Write(w, apierr.New(apierr.NotFound, "unknown_dataset", fmt.Sprintf("No binned dataset is called %q", r.PathValue("dataset"))))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, h.MaxBody)
	b, err := decode(r, d)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			apierr.Write(w, apierr.New(apierr.TooLarge, "body_too_large", fmt.Sprintf("The body exceeds %d bytes: split the bin into several runs or use NATS", h.MaxBody)))
			return
		}
		apierr.Write(w, apierr.Wrap(apierr.Invalid, "invalid_body", err.Error(), err))
		return
	}
	bin := d.NewBin(b.AF, b.Timebin, b.RunID)
	bin.Part = b.Part
	if err := d.CheckBin(bin); err == nil {
		err = d.CheckRows(bin, b.rows.Interface())
		if err != nil {
			apierr.Write(w, apierr.Wrap(apierr.Invalid, "invalid_rows", err.Error(), err))
			return
		}
	} else {
		apierr.Write(w, apierr.Wrap(apierr.Invalid, "invalid_bin", err.Error(), err))
		return
	}
	p := *h.Publisher
	if b.Producer.Name != "" {
		p.Producer = b.Producer
	}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	receipts, err := p.Bin(ctx, bin, b.rows.Interface())
	if err != nil {
		// Batches already stored are harmless: resending the same run is de-duplicated.
		w.Header().Set("Retry-After", "5")
		apierr.Write(w, apierr.Wrap(apierr.Unavailable, "bus_unavailable", "The message bus is unavailable; send the bin again later", err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_ = json.NewEncoder(w).Encode(Accepted{Dataset: bin.Dataset, Part: bin.Part, AF: bin.AF, Timebin: bin.Timebin, RunID: bin.RunID,
		Rows: b.rows.Len(), Messages: receipts})
}

// decode reads a bin of d: a JSON document, or NDJSON rows with the bin's
// identity in the query (af, timebin, part, run_id, producer).
func decode(r *http.Request, d *events.Dataset) (*body, error) {
	rows := reflect.New(reflect.SliceOf(d.RowType()))
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/json", "":
		var doc struct {
			header
			Rows json.RawMessage `json:"rows"`
		}
		dec := json.NewDecoder(r.Body)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&doc); err != nil {
			return nil, fmt.Errorf("JSON body: %w", err)
		}
		// Read to the end, so an oversized body is refused whatever it holds.
		var extra json.RawMessage
		switch err := dec.Decode(&extra); {
		case err == nil:
			return nil, errors.New("JSON body: one bin per request")
		case !errors.Is(err, io.EOF):
			return nil, fmt.Errorf("JSON body: %w", err)
		}
		if len(doc.Rows) > 0 {
			dec := json.NewDecoder(bytes.NewReader(doc.Rows))
			dec.DisallowUnknownFields()
			if err := dec.Decode(rows.Interface()); err != nil {
				return nil, fmt.Errorf("rows: %w", err)
			}
		}
		return &body{doc.header, rows.Elem()}, nil
	case "application/x-ndjson", "application/ndjson":
		q := r.URL.Query()
		b := &body{header: header{RunID: q.Get("run_id"), Part: q.Get("part"), Producer: events.Producer{Name: q.Get("producer")}}, rows: rows.Elem()}
		var err error
		if b.AF, err = strconv.Atoi(q.Get("af")); err != nil {
			return nil, errors.New("query parameter af must be an integer")
		}
		if b.Timebin, err = time.Parse(time.RFC3339, q.Get("timebin")); err != nil {
			return nil, errors.New("query parameter timebin must be an RFC 3339 time")
		}
		sc := bufio.NewScanner(r.Body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for line := 1; sc.Scan(); line++ {
			if len(sc.Bytes()) == 0 {
				continue
			}
			row := reflect.New(d.RowType())
			dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
			dec.DisallowUnknownFields()
			if err := dec.Decode(row.Interface()); err != nil {
				return nil, fmt.Errorf("line %d: %w", line, err)
			}
			b.rows = reflect.Append(b.rows, row.Elem())
		}
		return b, sc.Err()
	}
	return nil, fmt.Errorf("Content-Type %q: send application/json or application/x-ndjson", ct)
}
