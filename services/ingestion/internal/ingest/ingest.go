// Package ingest is the use case of the ingestion service: validate batches,
// stage them, commit a bin once all its batches are held, and announce it.
// It knows no transport: the consumer and the HTTP endpoint call it.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/ihr-go/ihr/pkg/events"
)

// Incomplete is returned while a bin's batches are not all staged yet.
type Incomplete struct {
	Have, Want int
}

func (e *Incomplete) Error() string {
	return fmt.Sprintf("bin incomplete: %d of %d batches staged", e.Have, e.Want)
}

// IsIncomplete reports whether err means "wait for more batches".
func IsIncomplete(err error) bool {
	var e *Incomplete
	return errors.As(err, &e)
}

// Commit is what committing a bin did.
type Commit struct {
	Result events.Result
	// Duplicate: the run was committed before; nothing changed.
	Duplicate bool
}

// Store keeps staged batches and commits bins. Implementations must make a
// commit atomic: the bin's rows, derived rows and ledger entry, or nothing.
type Store interface {
	// Committed reports whether this run of the bin was committed already.
	Committed(ctx context.Context, bin events.Bin) (bool, error)
	// Stage keeps a batch until its bin completes; staging the same batch twice is a no-op.
	Stage(ctx context.Context, b *events.Batch) error
	// Commit commits the run of bc if every batch is staged (*Incomplete otherwise).
	// A run committed before returns its stored result with Duplicate set.
	Commit(ctx context.Context, d *events.Dataset, bc *events.BinComplete) (Commit, error)
	// CommitRows commits a run from its batches in hand, as Commit does.
	CommitRows(ctx context.Context, d *events.Dataset, bc *events.BinComplete, batches []*events.Batch) (Commit, error)
	// ApplyDisco applies a disco event change (idempotent); a close before
	// its open is *Incomplete.
	ApplyDisco(ctx context.Context, e *events.DiscoEvent) error
	// ApplyNames sets names and flags, returning the networks and countries that changed.
	ApplyNames(ctx context.Context, u *events.NamesUpdate) (asns []int64, countries []string, err error)
	// NewestBins returns the newest committed time bin of each dataset and af.
	NewestBins(ctx context.Context) ([]events.Bin, error)
}

// Publisher announces committed bins.
type Publisher interface {
	PublishResult(ctx context.Context, r events.Result) error
}

// Service handles ingest messages of every binned dataset.
type Service struct {
	store   Store
	pub     Publisher
	metrics *Metrics
	log     *slog.Logger
}

// New returns the ingest use case, its metrics starting from the ledger's newest bins.
func New(ctx context.Context, store Store, pub Publisher, metrics *Metrics, log *slog.Logger) (*Service, error) {
	bins, err := store.NewestBins(ctx)
	for _, b := range bins {
		metrics.Newest(b.Dataset, b.AF, b.Timebin)
	}
	return &Service{store: store, pub: pub, metrics: metrics, log: log}, err
}

// HandleRows validates and stages a batch of d. A batch marked bin_complete
// is also committed. Errors are *events.Invalid (never retry), *Incomplete
// (wait) or transient.
func (s *Service) HandleRows(ctx context.Context, d *events.Dataset, data []byte) error {
	m, err := d.DecodeRows(data)
	if err != nil {
		s.metrics.Invalid(d.Name)
		return err
	}
	if done, err := s.stage(ctx, m); err != nil || done || !m.Complete {
		return err
	}
	return s.commit(ctx, d, &events.BinComplete{Schema: events.SchemaBin, Bin: m.Bin, Producer: m.Producer,
		BatchCount: m.BatchSeq + 1, RowCount: -1})
}

// HandleBin commits a complete bin of d and announces it.
func (s *Service) HandleBin(ctx context.Context, d *events.Dataset, data []byte) error {
	bc, err := d.DecodeBinComplete(data)
	if err != nil {
		s.metrics.Invalid(d.Name)
		return err
	}
	return s.commit(ctx, d, bc)
}

// Held lets the consumer keep a bin's batches in memory, unacknowledged,
// until its bin message, and commit them without staging: JetStream keeps
// them meanwhile. Stage makes a held batch durable when that cannot be.
type Held struct {
	s *Service
	d *events.Dataset
}

// Held returns the held-batches path of dataset d.
func (s *Service) Held(d *events.Dataset) Held { return Held{s, d} }

// Batch decodes a batch message.
func (h Held) Batch(data []byte) (*events.Batch, error) { return h.d.DecodeRows(data) }

// Bin decodes a bin message.
func (h Held) Bin(data []byte) (*events.BinComplete, error) { return h.d.DecodeBinComplete(data) }

// Stage stages a held batch (a no-op for a committed run).
func (h Held) Stage(ctx context.Context, b *events.Batch) error {
	_, err := h.s.stage(ctx, b)
	return err
}

// stage keeps a batch until its bin completes; done tells that its run was
// committed already (a redelivered batch: nothing to do).
func (s *Service) stage(ctx context.Context, b *events.Batch) (done bool, err error) {
	if done, err = s.store.Committed(ctx, b.Bin); err != nil || done {
		return done, err
	}
	return false, s.store.Stage(ctx, b)
}

// Commit commits and announces the run of bc from its batches.
func (h Held) Commit(ctx context.Context, bc *events.BinComplete, batches []*events.Batch) error {
	return h.s.commitWith(ctx, h.d, bc, func() (Commit, error) { return h.s.store.CommitRows(ctx, h.d, bc, batches) })
}

func (s *Service) commit(ctx context.Context, d *events.Dataset, bc *events.BinComplete) error {
	return s.commitWith(ctx, d, bc, func() (Commit, error) { return s.store.Commit(ctx, d, bc) })
}

func (s *Service) commitWith(ctx context.Context, d *events.Dataset, bc *events.BinComplete, commit func() (Commit, error)) error {
	start := time.Now()
	c, err := commit()
	if err == nil && !c.Duplicate {
		s.metrics.CommitTook(d.Name, time.Since(start))
	}
	if err != nil {
		if events.IsInvalid(err) {
			s.metrics.Invalid(bc.Dataset)
		}
		return err
	}
	// Published after the commit, and again for a duplicate: if a crash
	// came between commit and publish, this is the publish; otherwise the
	// results stream drops it by its message id.
	if err := s.pub.PublishResult(ctx, c.Result); err != nil {
		return fmt.Errorf("publish result: %w", err)
	}
	s.metrics.Committed(bc.Dataset, c)
	if !c.Duplicate {
		s.log.InfoContext(ctx, "bin committed", "dataset", bc.Dataset, "part", bc.Part, "af", bc.AF, "timebin", bc.Timebin,
			"run_id", bc.RunID, "rows", c.Result.RowCount, "replaced", c.Result.Replaced)
	}
	return nil
}

// HandleDisco applies a disco event change and announces it on
// ihr.results.disco, keyed by stream.
func (s *Service) HandleDisco(ctx context.Context, data []byte) error {
	e, err := events.DecodeDisco(data)
	if err != nil {
		s.metrics.Invalid(events.Disco)
		return err
	}
	if err := s.store.ApplyDisco(ctx, e); err != nil {
		return err
	}
	res := events.Result{Schema: events.SchemaResults, Op: e.Op, RowCount: len(e.Probes), CommittedAt: time.Now().UTC(),
		Bin:      events.Bin{Dataset: events.Disco, Timebin: e.StartTime, RunID: runOf(e.MsgID(data))},
		TextKeys: map[string][]string{"streamtype": {e.StreamType}, "streamname": {e.StreamName}}}
	return s.announce(ctx, res)
}

// HandleNames applies a names update and announces it on ihr.results.names
// with every network and country it names: a redelivery after a crash
// changes nothing more but still announces them, so no cache misses a name.
func (s *Service) HandleNames(ctx context.Context, data []byte) error {
	u, err := events.DecodeNames(data)
	if err != nil {
		s.metrics.Invalid(events.Names)
		return err
	}
	asns, countries, err := s.store.ApplyNames(ctx, u)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	res := events.Result{Schema: events.SchemaResults, RowCount: len(asns) + len(countries), CommittedAt: now,
		Bin: events.Bin{Dataset: events.Names, Timebin: now, RunID: runOf(events.NamesMsgID(data))}}
	for _, n := range u.Networks {
		res.Keys = addKey(res.Keys, "asn", n.Number)
	}
	for _, c := range u.Countries {
		res.TextKeys = addKey(res.TextKeys, "country", c.Code)
	}
	slices.Sort(res.Keys["asn"])
	slices.Sort(res.TextKeys["country"])
	if len(u.Networks) > events.MaxResultKeys || len(u.Countries) > events.MaxResultKeys {
		res.Keys, res.TextKeys, res.AllKeys = nil, nil, true
	}
	return s.announce(ctx, res)
}

func addKey[K int64 | string](m map[string][]K, kind string, k K) map[string][]K {
	if m == nil {
		m = map[string][]K{}
	}
	m[kind] = append(m[kind], k)
	return m
}

// runOf makes a message id usable as the run id of a results event.
func runOf(msgID string) string { return msgID[strings.LastIndexByte(msgID, ':')+1:] }

func (s *Service) announce(ctx context.Context, res events.Result) error {
	if err := s.pub.PublishResult(ctx, res); err != nil {
		return fmt.Errorf("publish result: %w", err)
	}
	s.metrics.Message(res.Dataset, "applied")
	return nil
}
