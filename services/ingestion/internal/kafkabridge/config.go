// Package kafkabridge lets IHR's existing Kafka producers publish to us
// unchanged: it consumes their msgpack result topics, groups the messages
// of each topic into time bins (the Kafka message timestamp is the bin, as
// IHR's sinks take it), decides when a bin is complete the way the sinks
// did (every partition moved past it, or the topic fell idle), publishes
// the bin on JetStream like any producer, and only then commits the Kafka
// offsets.
package kafkabridge

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ihr-go/ihr/pkg/config"
	"github.com/ihr-go/ihr/pkg/events"
)

// DefaultTopics maps the result topics whose message shapes IHR's sinks
// document (pipelines.md §1) to datasets. Prefix hegemony is left out: its
// sink enriches every row (GeoLite country, RPKI, IRR, delegation status)
// from sources the bridge does not have. Disco is left out: its events are
// mutable, not binned.
const DefaultTopics = "ihr_hegemony=hegemony:4,ihr_hegemony_v6=hegemony:6," +
	"ihr_hegemony_countries_ipv4=hegemony_country:4," +
	"ihr_raclette_diffrtt=atlas_delay:4,ihr_raclette_diffrtt_anomalies=atlas_delay_alarms:4," +
	"ihr_hegemony_anomalies_ipv4=hegemony_alarms:4,ihr_hegemony_anomalies_ipv6=hegemony_alarms:6," +
	"ihr_traceroutev4_topology_as_rank_weekly_as_path_length=metis_selection:4:as_path_length," +
	"ihr_traceroutev4_topology_as_rank_weekly_ip_hops=metis_selection:4:ip_hops," +
	"ihr_traceroutev4_topology_as_rank_weekly_rtt=metis_selection:4:rtt," +
	"ihr_traceroutev6_topology_as_rank_weekly_as_path_length=metis_selection:6:as_path_length," +
	"ihr_traceroutev6_topology_as_rank_weekly_ip_hops=metis_selection:6:ip_hops," +
	"ihr_traceroutev6_topology_as_rank_weekly_rtt=metis_selection:6:rtt," +
	"ihr_traceroutev4_topology_candidates_weekly_as_path_length=metis_deployment:4:as_path_length," +
	"ihr_traceroutev4_topology_candidates_weekly_ip_hops=metis_deployment:4:ip_hops," +
	"ihr_traceroutev4_topology_candidates_weekly_rtt=metis_deployment:4:rtt," +
	"ihr_traceroutev6_topology_candidates_weekly_as_path_length=metis_deployment:6:as_path_length," +
	"ihr_traceroutev6_topology_candidates_weekly_ip_hops=metis_deployment:6:ip_hops," +
	"ihr_traceroutev6_topology_candidates_weekly_rtt=metis_deployment:6:rtt," +
	"ihr_hegemony_traceroutev4_topology_monthly_rank_as_path_length=tr_hegemony:4"

// DefaultGroup is the Kafka consumer group of the bridge.
const DefaultGroup = "ihr-ingestion-bridge"

// Route says where one topic's messages go.
type Route struct {
	Topic   string
	Dataset *events.Dataset
	// AF is the bins' address family; for the Atlas datasets, whose rows
	// carry their own, the family of locations spelled without a suffix.
	AF int
	// Part is the metric of the metis datasets.
	Part   string
	decode decoder
}

// Config is the bridge's configuration. The bridge runs when Brokers is not empty.
type Config struct {
	Brokers []string
	Routes  []Route
	Group   string
	// Idle completes a topic's pending bins when no message came for that long.
	Idle time.Duration
	// Err is a mistake in IHR_KAFKA_TOPICS, reported when the service starts.
	Err error
}

// Enabled reports whether the bridge should run.
func (c Config) Enabled() bool { return len(c.Brokers) > 0 }

// ReadConfig reads IHR_KAFKA_BROKERS, IHR_KAFKA_TOPICS, IHR_KAFKA_GROUP and IHR_KAFKA_IDLE.
func ReadConfig(e *config.Env) Config {
	c := Config{
		Group: e.String("IHR_KAFKA_GROUP", DefaultGroup),
		Idle:  e.Duration("IHR_KAFKA_IDLE", 10*time.Minute, time.Second, 24*time.Hour),
	}
	for b := range strings.SplitSeq(e.String("IHR_KAFKA_BROKERS", ""), ",") {
		if b = strings.TrimSpace(b); b != "" {
			c.Brokers = append(c.Brokers, b)
		}
	}
	topics := e.String("IHR_KAFKA_TOPICS", DefaultTopics)
	var err error
	if c.Routes, err = ParseRoutes(topics); err != nil {
		c.Err = fmt.Errorf("invalid IHR_KAFKA_TOPICS=%q: %w", topics, err)
	}
	return c
}

// ParseRoutes parses "topic=dataset:af[:part],...". A topic appears once,
// and so does each (dataset, af, part): two topics feeding the same bins
// would replace each other's runs.
func ParseRoutes(s string) ([]Route, error) {
	var routes []Route
	topics, targets := map[string]bool{}, map[string]string{}
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item == "" {
			continue
		}
		r, err := parseRoute(item)
		if err != nil {
			return nil, err
		}
		target := fmt.Sprintf("%s:%d:%s", r.Dataset.Name, r.AF, r.Part)
		switch {
		case topics[r.Topic]:
			return nil, fmt.Errorf("topic %s is mapped twice", r.Topic)
		case targets[target] != "":
			return nil, fmt.Errorf("topics %s and %s both feed %s", targets[target], r.Topic, target)
		}
		topics[r.Topic], targets[target] = true, r.Topic
		routes = append(routes, r)
	}
	if len(routes) == 0 {
		return nil, fmt.Errorf("no topic mapped")
	}
	return routes, nil
}

func parseRoute(item string) (Route, error) {
	topic, target, ok := strings.Cut(item, "=")
	parts := strings.Split(target, ":")
	if !ok || strings.TrimSpace(topic) == "" || len(parts) < 2 || len(parts) > 3 {
		return Route{}, fmt.Errorf("%q: want topic=dataset:af or topic=dataset:af:part", item)
	}
	d, ok := events.Lookup(parts[0])
	dec := decoders[parts[0]]
	if !ok || dec == nil {
		return Route{}, fmt.Errorf("%q: the bridge does not map dataset %q (it maps %s)", item, parts[0], strings.Join(bridged(), ", "))
	}
	af, err := strconv.Atoi(parts[1])
	if err != nil {
		return Route{}, fmt.Errorf("%q: af %q is not a number", item, parts[1])
	}
	r := Route{Topic: strings.TrimSpace(topic), Dataset: d, AF: af, decode: dec}
	if len(parts) == 3 {
		r.Part = parts[2]
	}
	// A bin of the route must be valid apart from its time: this checks
	// the af and the part (the metric) against the dataset's declaration.
	probe := r.bin(time.Unix(0, 0).Add(time.Duration(d.Offset)*time.Second), af, "probe")
	if err := d.CheckBin(probe); err != nil {
		return Route{}, fmt.Errorf("%q: %w", item, err)
	}
	return r, nil
}

// bin names a bin of the route.
func (r Route) bin(timebin time.Time, af int, runID string) events.Bin {
	b := r.Dataset.NewBin(af, timebin, runID)
	b.Part = r.Part
	return b
}
