package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/ihr-go/ihr/pkg/events"
	"github.com/ihr-go/ihr/pkg/publish"
	"github.com/ihr-go/ihr/services/ihrctl/internal/dumpimport"
	"github.com/schollz/progressbar/v3"
	"go.opentelemetry.io/otel/propagation"
)

func importCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("import DATASET FILE... [flags]",
		"Publishes IHR daily dumps (CSV with a header; .csv, .csv.gz or .csv.lz4 as\n"+
			"archive.ihr.live serves them) as bins through JetStream, so ingestion validates,\n"+
			"commits and announces them as a pipeline's. Give every file of the same days\n"+
			"together (the global and local hegemony dumps share their bins). The run id comes\n"+
			"from the files' content: importing them again changes nothing. An interrupted\n"+
			"import resumes where it stopped when run again.", stderr)
	conn := addConnFlags(fs, false)
	af := fs.Int("af", 0, "address family of files without an af column (default: ipv4 or ipv6 in the file name)")
	batch := fs.Int("batch-rows", events.MaxBatchRows, "rows per batch message")
	stateDir := fs.String("state-dir", "", "where an interrupted import's progress is kept (default: the user cache directory)")
	progress := fs.String("progress", "auto", "progress on stderr: auto (a bar on a terminal, lines otherwise), always (a bar) or never (lines)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) < 2 {
		fs.Usage()
		return errors.New("give a dataset and at least one file")
	}
	d, ok := events.Lookup(pos[0])
	if !ok {
		return fmt.Errorf("unknown dataset %q (one of %s)", pos[0], datasetNames())
	}
	files := make([]dumpimport.File, len(pos)-1)
	for i, path := range pos[1:] {
		files[i] = dumpimport.File{Path: path, AF: *af}
		if *af == 0 {
			files[i].AF = dumpimport.AFFromPath(path)
		}
	}
	if *stateDir == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			return fmt.Errorf("no cache directory for the import state: give --state-dir (%w)", err)
		}
		*stateDir = filepath.Join(dir, "ihrctl")
	}
	bus, err := conn.connectStreams(ctx, stderr)
	if err != nil {
		return err
	}
	defer bus.Close()

	start := time.Now()
	plan, err := dumpimport.Scan(d, files, newProgress(*progress, stderr, "checking", -1).add)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %d rows in %d bins, run %s\n", d.Name, plan.Rows, plan.Bins(), plan.RunID)
	pub := &publish.Publisher{Bus: bus, Propagator: propagation.TraceContext{}, BatchRows: *batch,
		Producer: events.Producer{Name: "ihrctl import", Host: hostname()}}
	res, err := dumpimport.Publish(ctx, plan, pub, *stateDir, newProgress(*progress, stderr, "publishing", plan.Rows).add)
	if err != nil {
		return fmt.Errorf("%w (run the same command again to resume)", err)
	}
	secs := time.Since(start).Seconds()
	fmt.Fprintf(stdout, "published %d bins (%d done before), %d rows in %.1fs (%.0f rows/s); ingestion commits them as run %s\n",
		res.Bins, res.Skipped, plan.Rows, secs, float64(plan.Rows)/secs, plan.RunID)
	return nil
}

func datasetNames() []string {
	var names []string
	for _, d := range events.Datasets() {
		names = append(names, d.Name)
	}
	return names
}

// progress reports rows done: a bar on a terminal, a line every few
// seconds otherwise (logs, CI).
type progress struct {
	bar   *progressbar.ProgressBar
	w     io.Writer
	what  string
	total int64
	start time.Time
	last  time.Time
}

func newProgress(mode string, w io.Writer, what string, total int64) *progress {
	p := &progress{w: w, what: what, total: total, start: time.Now(), last: time.Now()}
	if showProgress(mode, w) {
		p.bar = progressbar.NewOptions64(total, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription(what),
			progressbar.OptionShowCount(), progressbar.OptionSetItsString("rows"), progressbar.OptionShowIts(),
			progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish())
	}
	return p
}

// add is called with the rows done so far.
func (p *progress) add(done int64) {
	if p.bar != nil {
		_ = p.bar.Set64(done)
		return
	}
	if time.Since(p.last) < 5*time.Second && done != p.total {
		return
	}
	p.last = time.Now()
	rate := float64(done) / time.Since(p.start).Seconds()
	line := fmt.Sprintf("%s: %d rows, %.0f rows/s", p.what, done, rate)
	if p.total > 0 {
		eta := time.Duration(float64(p.total-done) / rate * float64(time.Second))
		line = fmt.Sprintf("%s: %d/%d rows (%.0f%%), %.0f rows/s, ETA %s", p.what, done, p.total,
			100*float64(done)/float64(p.total), rate, eta.Round(time.Second))
	}
	fmt.Fprintln(p.w, line)
}
