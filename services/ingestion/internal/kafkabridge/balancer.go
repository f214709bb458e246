package kafkabridge

import (
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// wholeTopics is a group balancer that gives every partition of a topic to
// one member. A bin spans all partitions of its topic: two bridges holding
// parts of a topic would each publish part of the bin as a run of its
// own, and each run would replace the other's. With it, several ingestion
// replicas can run the bridge: topics spread over them, and a topic moves
// whole when its member leaves. It is eager: a rebalance revokes
// everything, and each member re-reads from the committed offsets.
type wholeTopics struct{}

var _ kgo.GroupBalancer = wholeTopics{}

func (wholeTopics) ProtocolName() string { return "ihr-whole-topics" }
func (wholeTopics) IsCooperative() bool  { return false }

func (wholeTopics) JoinGroupMetadata(interests []string, _ map[string][]int32, generation int32) []byte {
	meta := kmsg.NewConsumerMemberMetadata()
	meta.Version = 3
	meta.Topics = interests
	meta.Generation = generation
	return meta.AppendTo(nil)
}

func (wholeTopics) ParseSyncAssignment(assignment []byte) (map[string][]int32, error) {
	return kgo.ParseConsumerSyncAssignment(assignment)
}

func (w wholeTopics) MemberBalancer(members []kmsg.JoinGroupResponseMember) (kgo.GroupMemberBalancer, map[string]struct{}, error) {
	b, err := kgo.NewConsumerBalancer(w, members)
	return b, b.MemberTopics(), err
}

// Balance gives each topic, in name order, to the member interested in it
// that holds the fewest topics so far (ties: the smallest member id).
func (wholeTopics) Balance(b *kgo.ConsumerBalancer, topics map[string]int32) kgo.IntoSyncAssignment {
	plan := b.NewPlan()
	load := map[string]int{}
	for _, topic := range slices.Sorted(maps.Keys(topics)) {
		var best *kmsg.JoinGroupResponseMember
		b.EachMember(func(m *kmsg.JoinGroupResponseMember, meta *kmsg.ConsumerMemberMetadata) {
			if !slices.Contains(meta.Topics, topic) {
				return
			}
			if best == nil || load[m.MemberID] < load[best.MemberID] ||
				load[m.MemberID] == load[best.MemberID] && m.MemberID < best.MemberID {
				best = m
			}
		})
		if best == nil {
			continue
		}
		load[best.MemberID]++
		for p := range topics[topic] {
			plan.AddPartition(best, topic, p)
		}
	}
	return plan
}
