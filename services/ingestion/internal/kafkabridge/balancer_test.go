package kafkabridge

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Every partition of a topic goes to one member, and topics spread over
// the members.
func TestBalancerKeepsTopicsWhole(t *testing.T) {
	w := wholeTopics{}
	var members []kmsg.JoinGroupResponseMember
	for _, id := range []string{"b", "a"} {
		members = append(members, kmsg.JoinGroupResponseMember{MemberID: id,
			ProtocolMetadata: w.JoinGroupMetadata([]string{"t1", "t2", "t3"}, nil, 1)})
	}
	b, topics, err := w.MemberBalancer(members)
	if err != nil || len(topics) != 3 {
		t.Fatalf("%v %v", topics, err)
	}
	plan, err := b.(*kgo.ConsumerBalancer).BalanceOrError(map[string]int32{"t1": 2, "t2": 3, "t3": 1})
	if err != nil {
		t.Fatal(err)
	}
	got := plan.(*kgo.BalancePlan).AsMemberIDMap()
	owners := map[string]string{}
	for member, ts := range got {
		for topic, ps := range ts {
			owners[topic] += member
			if want := map[string]int{"t1": 2, "t2": 3, "t3": 1}[topic]; len(ps) != want {
				t.Errorf("%s holds %v of %s, want all %d partitions", member, ps, topic, want)
			}
		}
	}
	if owners["t1"] != "a" || owners["t2"] != "b" || owners["t3"] != "a" {
		t.Errorf("owners %v, want t1 and t3 on a, t2 on b", owners)
	}
}
