package kafkabridge

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ihr-go/ihr/pkg/config"
)

func TestDefaultTopics(t *testing.T) {
	c := ReadConfig(config.FromMap(nil))
	if c.Enabled() || c.Err != nil || c.Group != DefaultGroup || c.Idle != 10*time.Minute {
		t.Fatalf("defaults %+v", c)
	}
	byTopic := map[string]Route{}
	for _, r := range c.Routes {
		byTopic[r.Topic] = r
	}
	for topic, want := range map[string]string{
		"ihr_hegemony": "hegemony:4:", "ihr_hegemony_v6": "hegemony:6:", "ihr_raclette_diffrtt": "atlas_delay:4:",
		"ihr_hegemony_anomalies_ipv6":                                    "hegemony_alarms:6:",
		"ihr_traceroutev6_topology_as_rank_weekly_rtt":                   "metis_selection:6:rtt",
		"ihr_hegemony_traceroutev4_topology_monthly_rank_as_path_length": "tr_hegemony:4:",
	} {
		r := byTopic[topic]
		if r.Dataset == nil || fmt.Sprintf("%s:%d:%s", r.Dataset.Name, r.AF, r.Part) != want {
			t.Errorf("%s maps to %+v, want %s", topic, r, want)
		}
	}
	if len(c.Routes) != 20 {
		t.Errorf("%d default topics", len(c.Routes))
	}
}

func TestReadConfig(t *testing.T) {
	c := ReadConfig(config.FromMap(map[string]string{"IHR_KAFKA_BROKERS": " k1:9092, k2:9092 ,", "IHR_KAFKA_TOPICS": "t1=hegemony:6",
		"IHR_KAFKA_GROUP": "g", "IHR_KAFKA_IDLE": "30s"}))
	if !c.Enabled() || strings.Join(c.Brokers, " ") != "k1:9092 k2:9092" || len(c.Routes) != 1 || c.Routes[0].AF != 6 || c.Group != "g" || c.Idle != 30*time.Second {
		t.Errorf("config %+v", c)
	}
	e := config.FromMap(map[string]string{"IHR_KAFKA_IDLE": "10ms"})
	if ReadConfig(e); e.Err() == nil || !strings.Contains(e.Err().Error(), "IHR_KAFKA_IDLE") {
		t.Errorf("idle 10ms accepted: %v", e.Err())
	}
	if c := ReadConfig(config.FromMap(map[string]string{"IHR_KAFKA_TOPICS": "t1=disco:4"})); c.Err == nil || !strings.Contains(c.Err.Error(), "IHR_KAFKA_TOPICS") {
		t.Errorf("bad topics: %v", c.Err)
	}
}

func TestParseRoutesRefusesMistakes(t *testing.T) {
	for spec, want := range map[string]string{
		"":                             "no topic",
		"t1":                           "want topic=dataset:af",
		"t1=hegemony":                  "want topic=dataset:af",
		"=hegemony:4":                  "want topic=dataset:af",
		"t1=hegemony:4:rtt:x":          "want topic=dataset:af",
		"t1=hegemony_prefix:4":         "does not map dataset",
		"t1=disco:4":                   "does not map dataset",
		"t1=hegemony:five":             "not a number",
		"t1=hegemony:5":                "af must be 4 or 6",
		"t1=hegemony:4:rtt":            "have no part",
		"t1=metis_selection:4":         "part must name",
		"t1=metis_selection:4:latency": "part must name",
		"t1=hegemony:4,t1=hegemony:6":  "mapped twice",
		"t1=hegemony:4,t2=hegemony:4":  "both feed hegemony:4",
		"t1=metis_selection:4:rtt,t2=metis_selection:4:rtt": "both feed",
	} {
		if _, err := ParseRoutes(spec); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", spec, err, want)
		}
	}
	if rs, err := ParseRoutes(" t1=metis_selection:4:rtt , t2=metis_selection:4:ip_hops,"); err != nil || len(rs) != 2 {
		t.Errorf("two metrics of one dataset: %v", err)
	}
}
