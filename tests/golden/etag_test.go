package golden

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/ihr-go/ihr/pkg/testkit"
)

// TestRevalidation: an answer carries an ETag through the gateway (weak
// once compressed), If-None-Match gets 304 with no body, and a change in the
// data (a re-run of the bin, through ingestion) changes the tag.
func TestRevalidation(t *testing.T) {
	gateway, env := stackEnv(t)
	env["IHR_INGEST_OPEN"] = "true"
	ingestion := testkit.StartBinary(t, "ingestion", env)
	url := gateway + "/ihr/api/hegemony/?originasn=2497&af=4&timebin=2024-05-01T00:00:00Z"
	do := func(accept, inm string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Accept-Encoding", accept)
		if inm != "" {
			req.Header.Set("If-None-Match", inm)
		}
		resp, err := http.DefaultTransport.RoundTrip(req) // no transparent decoding
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	plain, body := do("identity", "")
	tag := plain.Header.Get("ETag")
	if plain.StatusCode != 200 || !strings.HasPrefix(tag, `"`) || !strings.Contains(body, `"results":[{`) {
		t.Fatalf("first answer: %d, ETag %q, %s", plain.StatusCode, tag, clip(body))
	}
	br, _ := do("br", "")
	if br.Header.Get("Content-Encoding") != "br" || br.Header.Get("ETag") != "W/"+tag {
		t.Errorf("compressed answer: %v", br.Header)
	}
	for _, inm := range []string{tag, "W/" + tag} {
		for _, accept := range []string{"identity", "br"} {
			resp, b := do(accept, inm)
			if resp.StatusCode != http.StatusNotModified || b != "" {
				t.Errorf("If-None-Match %s, %s: %d %q", inm, accept, resp.StatusCode, clip(b))
			}
		}
	}
	rerun := `{"af":4,"timebin":"2024-05-01T00:00:00Z","run_id":"etag-rerun","rows":[{"originasn":2497,"asn":2497,"hege":0.5}]}`
	resp, err := http.Post(ingestion+"/ihr/api/ingest/hegemony", "application/json", strings.NewReader(rerun))
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("re-run: %v %v", err, resp)
	}
	resp.Body.Close()
	var changed *http.Response
	testkit.Eventually(t, "a new tag once the re-run is committed", func() bool {
		changed, body = do("identity", tag)
		return changed.StatusCode == 200
	})
	if tag2 := changed.Header.Get("ETag"); tag2 == tag || tag2 == "" || !strings.Contains(body, `{"count":1,`) {
		t.Errorf("after a change: ETag %q (was %q), %s", tag2, tag, clip(body))
	}
}
