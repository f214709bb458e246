package kafkabridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ihr-go/ihr/pkg/events"
	"github.com/ihr-go/ihr/pkg/publish"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// BinPublisher publishes a bin's rows, then bin_complete, waiting for
// JetStream to store each message (pkg/publish.Publisher).
type BinPublisher interface {
	Bin(ctx context.Context, bin events.Bin, rows any) ([]publish.Receipt, error)
}

// maxPollRecords bounds the work between two looks at the clock (idle
// bins) and two chances for the group to rebalance.
const maxPollRecords = 10000

// Bridge consumes the mapped topics and publishes their bins. One goroutine
// (Run) owns all its state; the consumer group's callbacks only queue
// changes, which Run applies between polls.
type Bridge struct {
	cfg     Config
	pub     BinPublisher
	metrics *Metrics
	log     *slog.Logger
	client  *kgo.Client
	routes  map[string]Route

	mu      sync.Mutex
	changes []func()

	topics map[string]*topicState
	// published outlives a topic's state, which a rebalance drops.
	published map[string]time.Time
	// logged is the last late or misaligned record logged per topic and
	// reason, so that a flood of them logs once per bin.
	logged map[string]string
}

// New returns a bridge; it connects when Run starts consuming.
func New(cfg Config, pub BinPublisher, metrics *Metrics, log *slog.Logger) (*Bridge, error) {
	if cfg.Err != nil {
		return nil, cfg.Err
	}
	b := &Bridge{cfg: cfg, pub: pub, metrics: metrics, log: log.With("component", "kafka-bridge"),
		routes: map[string]Route{}, topics: map[string]*topicState{}, published: map[string]time.Time{}, logged: map[string]string{}}
	var topics []string
	for _, r := range cfg.Routes {
		topics = append(topics, r.Topic)
		b.routes[r.Topic] = r
	}
	var err error
	b.client, err = kgo.NewClient(
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ConsumerGroup(cfg.Group),
		kgo.ConsumeTopics(topics...),
		kgo.Balancers(wholeTopics{}),
		kgo.DisableAutoCommit(),
		// Callbacks run between our polls, never while a bin is being
		// published and its offsets committed.
		kgo.BlockRebalanceOnPoll(),
		// A new group starts at the oldest retained message, like IHR's sinks.
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.OnPartitionsAssigned(b.assigned),
		kgo.OnPartitionsRevoked(b.revoked),
		kgo.OnPartitionsLost(b.revoked),
		kgo.OnOffsetsFetched(b.fetched),
		kgo.WithLogger(kafkaLog{b.log}),
	)
	if err != nil {
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	return b, nil
}

// Probe reports whether a Kafka broker answers.
func (b *Bridge) Probe(ctx context.Context) error { return b.client.Ping(ctx) }

// Run consumes until ctx is done. Bins still pending then are neither
// published nor committed: they are read again at the next start.
func (b *Bridge) Run(ctx context.Context) {
	defer b.client.CloseAllowingRebalance()
	b.log.Info("kafka bridge started", "brokers", strings.Join(b.cfg.Brokers, ","), "group", b.cfg.Group,
		"topics", len(b.cfg.Routes), "idle", b.cfg.Idle.String())
	wait := min(b.cfg.Idle/2, time.Second)
	for ctx.Err() == nil {
		fetches := b.poll(ctx, wait)
		b.applyChanges()
		b.consume(fetches, time.Now())
		b.flush(ctx, time.Now())
		b.client.AllowRebalance()
	}
}

func (b *Bridge) poll(ctx context.Context, wait time.Duration) kgo.Fetches {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	fetches := b.client.PollRecords(ctx, maxPollRecords)
	fetches.EachError(func(topic string, p int32, err error) {
		if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) && !errors.Is(err, kgo.ErrClientClosed) {
			b.log.Warn("kafka fetch", "topic", topic, "partition", p, "err", err)
		}
	})
	return fetches
}

func (b *Bridge) consume(fetches kgo.Fetches, now time.Time) {
	counts := map[string]int{}
	drops := map[[2]string]int{}
	fetches.EachRecord(func(r *kgo.Record) {
		t := b.topics[r.Topic]
		if t == nil {
			return // revoked since it was fetched
		}
		counts[r.Topic]++
		if d := t.add(record{partition: r.Partition, offset: r.Offset, timestamp: r.Timestamp, value: r.Value}, now); d != nil {
			drops[[2]string{r.Topic, d.reason}]++
			b.logDrop(r, d)
		}
	})
	for topic, n := range counts {
		b.metrics.consumed(topic, n)
	}
	for k, n := range drops {
		b.metrics.drop(k[0], k[1], n)
	}
}

// logDrop logs late and misaligned records, once per bin (or timestamp);
// the other reasons are summed up in the log line of their bin.
func (b *Bridge) logDrop(r *kgo.Record, d *dropped) {
	if d.reason != reasonLate && d.reason != reasonMisaligned {
		return
	}
	key := r.Topic + "\x00" + d.reason
	if b.logged[key] == d.detail {
		return
	}
	b.logged[key] = d.detail
	b.log.Warn("kafka record dropped", "topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "reason", d.reason, "detail", d.detail)
}

// flush publishes every complete bin, oldest first per topic, then commits
// the offsets. A bin that could not be published (shutdown) stays pending
// and holds its offsets back.
func (b *Bridge) flush(ctx context.Context, now time.Time) {
	defer b.commit(ctx)
	for _, name := range slices.Sorted(maps.Keys(b.topics)) {
		t := b.topics[name]
		for _, pb := range t.ready(now, b.cfg.Idle) {
			if err := b.publish(ctx, t, pb); err != nil {
				return
			}
			t.done(pb)
			b.published[name] = t.published
		}
	}
}

func (b *Bridge) publish(ctx context.Context, t *topicState, pb *pendingBin) error {
	groups := pb.rows(t.route.Dataset)
	b.metrics.drop(t.route.Topic, reasonDuplicate, pb.dropped[reasonDuplicate])
	if len(groups) == 0 {
		b.log.Warn("kafka bin has no row to publish", "topic", t.route.Topic, "timebin", pb.timebin, "dropped", pb.dropped, "first_dropped", pb.example)
		return nil
	}
	for _, af := range slices.Sorted(maps.Keys(groups)) {
		bin := t.route.bin(pb.timebin, af, t.runID(pb, af))
		if err := b.send(ctx, bin, groups[af]); err != nil {
			return err
		}
		b.metrics.published(t.route.Topic, bin.Dataset)
		b.log.Info("kafka bin published", "topic", t.route.Topic, "dataset", bin.Dataset, "part", bin.Part, "af", af,
			"timebin", bin.Timebin, "run_id", bin.RunID, "rows", groups[af].Len(), "dropped", pb.dropped, "first_dropped", pb.example)
	}
	return nil
}

// send publishes a bin until JetStream has stored all of it, retrying with
// growing delays while NATS is unavailable; it gives up only at shutdown.
func (b *Bridge) send(ctx context.Context, bin events.Bin, rows reflect.Value) error {
	for delay := 100 * time.Millisecond; ; delay = min(2*delay, 30*time.Second) {
		_, err := b.pub.Bin(ctx, bin, rows.Interface())
		if err == nil || ctx.Err() != nil {
			return err
		}
		b.log.Warn("publish kafka bin, will retry", "dataset", bin.Dataset, "timebin", bin.Timebin, "run_id", bin.RunID, "err", err, "retry_in", delay)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
	}
}

// commit commits each topic's safe offsets (see toCommit), with the
// topic's newest published bin as the offsets' metadata. It also runs at
// shutdown, so that the bins published last are not read again.
func (b *Bridge) commit(ctx context.Context) {
	offsets := map[string]map[int32]kgo.EpochOffset{}
	planned := map[string]map[int32]int64{}
	hw := map[string]time.Time{}
	for name, t := range b.topics {
		o := t.toCommit()
		if o == nil {
			continue
		}
		planned[name], hw[name], offsets[name] = o, t.published, map[int32]kgo.EpochOffset{}
		for p, off := range o {
			offsets[name][p] = kgo.EpochOffset{Epoch: -1, Offset: off}
		}
	}
	if len(offsets) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := b.commitSync(kgo.PreCommitFnContext(ctx, withMetadata(hw)), offsets); err != nil {
		b.log.Warn("commit kafka offsets, will retry", "err", err)
		return
	}
	for name, o := range planned {
		b.topics[name].commitDone(o, hw[name])
	}
}

func (b *Bridge) commitSync(ctx context.Context, offsets map[string]map[int32]kgo.EpochOffset) error {
	var err error
	b.client.CommitOffsetsSync(ctx, offsets, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, cerr error) {
		err = cerr
		if resp == nil {
			return
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if e := kerr.ErrorForCode(p.ErrorCode); e != nil && err == nil {
					err = fmt.Errorf("%s partition %d: %w", t.Topic, p.Partition, e)
				}
			}
		}
	})
	return err
}

// metaPrefix starts the metadata of the offsets the bridge commits.
const metaPrefix = "ihr-kafka-bridge/v1 published="

// withMetadata writes each topic's newest published bin into the commit.
func withMetadata(hw map[string]time.Time) func(*kmsg.OffsetCommitRequest) error {
	return func(req *kmsg.OffsetCommitRequest) error {
		for i := range req.Topics {
			meta := metaPrefix + hw[req.Topics[i].Topic].UTC().Format(time.RFC3339)
			for j := range req.Topics[i].Partitions {
				req.Topics[i].Partitions[j].Metadata = &meta
			}
		}
		return nil
	}
}

func parseMetadata(meta *string) (time.Time, bool) {
	if meta == nil {
		return time.Time{}, false
	}
	s, ok := strings.CutPrefix(*meta, metaPrefix)
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339, s)
	return t, err == nil
}

func (b *Bridge) queue(change func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.changes = append(b.changes, change)
}

func (b *Bridge) applyChanges() {
	b.mu.Lock()
	changes := b.changes
	b.changes = nil
	b.mu.Unlock()
	for _, c := range changes {
		c()
	}
}

// topic returns the state of a mapped topic, created when it is assigned.
func (b *Bridge) topic(name string) *topicState {
	t := b.topics[name]
	if t == nil {
		t = newTopicState(b.routes[name], b.published[name])
		b.topics[name] = t
	}
	return t
}

func (b *Bridge) assigned(_ context.Context, _ *kgo.Client, assigned map[string][]int32) {
	b.queue(func() {
		for name, ps := range assigned {
			t := b.topic(name)
			for _, p := range ps {
				t.assigned[p] = true
			}
			b.log.Info("kafka partitions assigned", "topic", name, "partitions", ps)
		}
	})
}

// revoked drops the topics' state, pending bins included: the member that
// gets them (maybe this one again) reads them from the committed offsets,
// which never passed a record of a pending bin.
func (b *Bridge) revoked(_ context.Context, _ *kgo.Client, revoked map[string][]int32) {
	b.queue(func() {
		for name := range revoked {
			if t := b.topics[name]; t != nil && len(t.pending) > 0 {
				b.log.Info("kafka partitions revoked: pending bins will be read again", "topic", name, "pending_bins", len(t.pending))
			}
			delete(b.topics, name)
		}
	})
}

// fetched learns, per partition, where consumption starts and the newest
// bin published, from the committed offsets and their metadata.
func (b *Bridge) fetched(_ context.Context, _ *kgo.Client, resp *kmsg.OffsetFetchResponse) error {
	type committed struct {
		topic     string
		partition int32
		offset    int64
		meta      *string
	}
	var got []committed
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			got = append(got, committed{t.Topic, p.Partition, p.Offset, p.Metadata})
		}
	}
	for _, g := range resp.Groups {
		for _, t := range g.Topics {
			for _, p := range t.Partitions {
				got = append(got, committed{t.Topic, p.Partition, p.Offset, p.Metadata})
			}
		}
	}
	b.queue(func() {
		for _, c := range got {
			if _, ok := b.routes[c.topic]; ok {
				b.topic(c.topic).restore(c.partition, c.offset, c.meta)
				b.published[c.topic] = b.topics[c.topic].published
			}
		}
	})
	return nil
}

// restore takes a partition's committed offset (-1: none) and its metadata.
func (t *topicState) restore(p int32, offset int64, meta *string) {
	t.expect[p] = max(offset, 0)
	if offset >= 0 {
		t.committed[p] = offset
	}
	if hw, ok := parseMetadata(meta); ok && hw.After(t.published) {
		t.published, t.committedHW = hw, hw
	}
}

// kafkaLog passes the Kafka client's warnings and errors to slog.
type kafkaLog struct{ log *slog.Logger }

func (kafkaLog) Level() kgo.LogLevel { return kgo.LogLevelWarn }

func (l kafkaLog) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	lv := slog.LevelWarn
	if level == kgo.LogLevelError {
		lv = slog.LevelError
	}
	l.log.Log(context.Background(), lv, "kafka client: "+msg, keyvals...)
}
