// Package httpingest lets pipelines that cannot speak NATS publish a bin
// over HTTP: POST /ihr/api/ingest/hegemony takes one bin per request,
// validates it whole, and publishes it as batches plus the bin message, as
// any producer would. The answer (202) lists what JetStream stored.
package httpingest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/ihr-go/ihr/pkg/apierr"
	"github.com/ihr-go/ihr/pkg/events"
	"github.com/ihr-go/ihr/pkg/publish"
)

// Handler serves the ingest endpoints.
type Handler struct {
	Publisher *publish.Publisher
	// Open enables the endpoint; until authentication exists it must be
	// switched on explicitly (IHR_INGEST_OPEN=true).
	Open    bool
	MaxBody int64
}

// body is a bin sent as one JSON document.
type body struct {
	AF       int                  `json:"af"`
	Timebin  time.Time            `json:"timebin"`
	RunID    string               `json:"run_id"`
	Producer events.Producer      `json:"producer"`
	Rows     []events.HegemonyRow `json:"rows"`
}

// Accepted is the 202 answer.
type Accepted struct {
	Dataset  string            `json:"dataset"`
	AF       int               `json:"af"`
	Timebin  time.Time         `json:"timebin"`
	RunID    string            `json:"run_id"`
	Rows     int               `json:"rows"`
	Messages []publish.Receipt `json:"messages"`
}

// Routes registers the endpoints on mux.
func (h *Handler) Routes(mux *http.ServeMux) {
	mux.HandleFunc("POST /ihr/api/ingest/hegemony", h.hegemony)
	mux.HandleFunc("POST /ihr/api/ingest/hegemony/", h.hegemony)
}

func (h *Handler) hegemony(w http.ResponseWriter, r *http.Request) {
	if !h.Open {
		apierr.Write(w, apierr.New(apierr.Forbidden, "ingest_disabled",
			"HTTP ingest is disabled until authentication is configured; set IHR_INGEST_OPEN=true on a trusted network"))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, h.MaxBody)
	b, err := decode(r)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			apierr.Write(w, apierr.New(apierr.TooLarge, "body_too_large", fmt.Sprintf("The body exceeds %d bytes: split the bin into several runs or use NATS", h.MaxBody)))
			return
		}
		apierr.Write(w, apierr.Wrap(apierr.Invalid, "invalid_body", err.Error(), err))
		return
	}
	bin := events.NewHegemonyBin(b.AF, b.Timebin, b.RunID)
	if err := events.CheckBin(bin, events.Hegemony); err == nil {
		err = events.CheckHegemonyRows(b.Rows)
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
	receipts, err := p.Hegemony(ctx, bin, b.Rows)
	if err != nil {
		// Batches already stored are harmless: resending the same run is de-duplicated.
		w.Header().Set("Retry-After", "5")
		apierr.Write(w, apierr.Wrap(apierr.Unavailable, "bus_unavailable", "The message bus is unavailable; send the bin again later", err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_ = json.NewEncoder(w).Encode(Accepted{Dataset: bin.Dataset, AF: bin.AF, Timebin: bin.Timebin, RunID: bin.RunID,
		Rows: len(b.Rows), Messages: receipts})
}

// decode reads a bin: a JSON document, or NDJSON rows with the bin's
// identity in the query (af, timebin, run_id, producer).
func decode(r *http.Request) (*body, error) {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/json", "":
		var b body
		dec := json.NewDecoder(r.Body)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&b); err != nil {
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
		return &b, nil
	case "application/x-ndjson", "application/ndjson":
		q := r.URL.Query()
		b := &body{RunID: q.Get("run_id"), Producer: events.Producer{Name: q.Get("producer")}}
		var err error
		if b.AF, err = strconv.Atoi(q.Get("af")); err != nil {
			return nil, errors.New("query parameter af must be 4 or 6")
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
			var row events.HegemonyRow
			if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
				return nil, fmt.Errorf("line %d: %w", line, err)
			}
			b.Rows = append(b.Rows, row)
		}
		return b, sc.Err()
	}
	return nil, fmt.Errorf("Content-Type %q: send application/json or application/x-ndjson", ct)
}
