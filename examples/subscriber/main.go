// Command subscriber prints the hegemony changes of one network as IHR
// publishes them: it subscribes to the gateway's Server-Sent Events for
// the network's hegemony results, and for each, reads the new values from
// the API. It remembers the last event it handled in a state file, so a
// restart resumes where it stopped: nothing missed, nothing twice.
//
//	IHR_TOKEN=ihr_k... go run ./subscriber -gateway https://ihr.example -asn 2497
//
// Only the standard library: a template for subscribers in any language.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"time"
)

func main() {
	gateway := flag.String("gateway", "http://127.0.0.1:8080", "the IHR API's base URL")
	asn := flag.Int64("asn", 2497, "the network whose dependencies to follow")
	state := flag.String("state", "", "file keeping the last event handled (none: start with the next event)")
	count := flag.Int("n", 0, "exit after this many events (0: run until interrupted)")
	flag.Parse()
	token := os.Getenv("IHR_TOKEN") // an access token or API key: streams need credentials
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	s := &subscriber{base: strings.TrimRight(*gateway, "/"), asn: *asn, token: token, state: *state, left: *count}
	if err := s.run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		log.Fatal(err)
	}
}

type subscriber struct {
	base, token, state string
	asn                int64
	left               int // events to handle before exiting; 0: no end
}

// result is what a results event says, as far as this program cares.
type result struct {
	Dataset string    `json:"dataset"`
	AF      int       `json:"af"`
	Timebin time.Time `json:"timebin"`
}

var errDone = errors.New("done")

// run subscribes again after each interruption, resuming from the state.
func (s *subscriber) run(ctx context.Context) error {
	for {
		err := s.subscribe(ctx)
		if errors.Is(err, errDone) {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		log.Printf("stream interrupted (%v); resuming in 3s", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(3 * time.Second):
		}
	}
}

func (s *subscriber) subscribe(ctx context.Context) error {
	q := url.Values{"dataset": {"hegemony"}, "asn": {fmt.Sprint(s.asn)}}
	req, err := http.NewRequestWithContext(ctx, "GET", s.base+"/ihr/api/stream?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	if last := s.last(); last != "" {
		req.Header.Set("Last-Event-ID", last)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return fmt.Errorf("%s: %s", resp.Status, body)
	}
	// Server-Sent Events: "field: value" lines, a blank line ends an event.
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	var id, event, data string
	for sc.Scan() {
		field, value, _ := strings.Cut(sc.Text(), ": ")
		switch field {
		case "id":
			id = value
		case "event":
			event = value
		case "data":
			data = value
		case "":
			if err := s.handle(ctx, id, event, data); err != nil {
				return err
			}
			id, event, data = "", "", ""
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return io.ErrUnexpectedEOF
}

func (s *subscriber) handle(ctx context.Context, id, event, data string) error {
	switch event {
	case "result":
		var r result
		if err := json.Unmarshal([]byte(data), &r); err != nil {
			return err
		}
		if err := s.print(ctx, r); err != nil {
			return err
		}
		if err := s.save(id); err != nil {
			return err
		}
		if s.left--; s.left == 0 {
			return errDone
		}
	case "gap": // the stream no longer holds events we missed: read the API for them
		log.Printf("missed events %s: read their time bins from the API", data)
	case "close":
		return fmt.Errorf("closed by the gateway: %s", data)
	}
	return nil
}

// print reads the network's dependencies in the bin and prints them.
func (s *subscriber) print(ctx context.Context, r result) error {
	q := url.Values{"originasn": {fmt.Sprint(s.asn)}, "af": {fmt.Sprint(r.AF)},
		"timebin": {r.Timebin.UTC().Format(time.RFC3339)}, "ordering": {"-hege"}}
	req, err := http.NewRequestWithContext(ctx, "GET", s.base+"/ihr/api/hegemony/?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var page struct {
		Results []struct {
			ASN     int64   `json:"asn"`
			ASNName string  `json:"asn_name"`
			Hege    float64 `json:"hege"`
		} `json:"results"`
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("hegemony of AS%d: %s", s.asn, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
		return err
	}
	fmt.Printf("%s IPv%d AS%d depends on %d networks\n", r.Timebin.UTC().Format(time.RFC3339), r.AF, s.asn, len(page.Results))
	for _, d := range page.Results {
		fmt.Printf("  AS%-10d %-30.30s %.4f\n", d.ASN, d.ASNName, d.Hege)
	}
	return nil
}

func (s *subscriber) last() string {
	if s.state == "" {
		return ""
	}
	b, _ := os.ReadFile(s.state)
	return strings.TrimSpace(string(b))
}

// save records the last event handled, replacing the file whole.
func (s *subscriber) save(id string) error {
	if s.state == "" {
		return nil
	}
	tmp := s.state + ".tmp"
	if err := os.WriteFile(tmp, []byte(id+"\n"), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, s.state)
}
