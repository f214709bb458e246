package compose

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// stage is one FROM ... of a Dockerfile.
type stage struct {
	base, name string
}

// dockerfile is what the checks need from a Dockerfile.
type dockerfile struct {
	path       string // relative to the repository root
	stages     []stage
	final      stage
	args       []string // ARG names, any stage
	user       string   // the final stage's last USER, "" when none
	entrypoint []string // the final stage's ENTRYPOINT, as the container runs it
	cmd        []string // the final stage's CMD
	exposes    []string // ports the final stage EXPOSEs
	copies     []string // build-context sources of COPY/ADD (not --from), in order
	runs       []string // every RUN command line
}

// instructionNames are the Dockerfile instructions BuildKit knows.
var instructionNames = []string{"ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK",
	"LABEL", "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR"}

var heredoc = regexp.MustCompile(`<<-?["']?([A-Za-z_][A-Za-z0-9_]*)["']?`)

// instruction is one logical line: continuations joined, comments dropped.
type instruction struct {
	line int
	name string // upper case
	args string
}

// splitInstructions reads a Dockerfile the way BuildKit's parser does for the
// subset we use: comments, backslash continuations and here-documents.
func splitInstructions(src string) ([]instruction, []string) {
	var out []instruction
	var problems []string
	lines := strings.Split(strings.ReplaceAll(src, "\r\n", "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		text := strings.TrimSpace(lines[i])
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		start := i + 1
		for strings.HasSuffix(text, "\\") && i+1 < len(lines) {
			text = strings.TrimSuffix(text, "\\")
			i++
			next := strings.TrimSpace(lines[i])
			if strings.HasPrefix(next, "#") {
				text += "\\" // a comment inside a continuation is dropped
				continue
			}
			if next == "" {
				problems = append(problems, fmt.Sprintf("line %d: empty continuation line", i+1))
			}
			text += " " + next
		}
		name, args, _ := strings.Cut(text, " ")
		in := instruction{line: start, name: strings.ToUpper(name), args: strings.TrimSpace(args)}
		if m := heredoc.FindStringSubmatch(in.args); m != nil {
			for i+1 < len(lines) && strings.TrimSpace(lines[i+1]) != m[1] {
				i++
				in.args += "\n" + lines[i]
			}
			i++
		}
		if !slices.Contains(instructionNames, in.name) {
			problems = append(problems, fmt.Sprintf("line %d: unknown instruction %s", start, name))
			continue
		}
		if name != in.name {
			problems = append(problems, fmt.Sprintf("line %d: instruction %s should be upper case", start, name))
		}
		out = append(out, in)
	}
	return out, problems
}

// flags splits leading --name[=value] flags off an instruction's arguments.
func flags(args string) (map[string]string, string) {
	f := map[string]string{}
	for strings.HasPrefix(args, "--") {
		word, rest, _ := strings.Cut(args, " ")
		k, v, _ := strings.Cut(strings.TrimPrefix(word, "--"), "=")
		f[k] = v
		args = strings.TrimSpace(rest)
	}
	return f, args
}

// words returns an instruction's arguments in exec (JSON) form, or split on
// blanks; json tells which.
func words(args string) (w []string, json bool) {
	if strings.HasPrefix(args, "[") {
		if err := jsonUnmarshal(args, &w); err == nil {
			return w, true
		}
	}
	return strings.Fields(args), false
}

// parseDockerfile reads root/rel. The problems are its syntax errors and the
// checks every image of ours must pass: a non-root numeric user, an ENTRYPOINT
// or CMD, COPY sources that exist and are not excluded by .dockerignore.
func parseDockerfile(root, rel string) (*dockerfile, []string) {
	var problems []string
	bad := func(format string, args ...any) {
		problems = append(problems, rel+": "+fmt.Sprintf(format, args...))
	}
	src, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		bad("cannot read: %v", err)
		return nil, problems
	}
	ins, syntax := splitInstructions(string(src))
	for _, p := range syntax {
		bad("%s", p)
	}
	d := &dockerfile{path: rel}
	cmdSet := false // in this stage, so ENTRYPOINT keeps it
	for _, in := range ins {
		if in.name != "FROM" && in.name != "ARG" && len(d.stages) == 0 {
			bad("line %d: %s before the first FROM", in.line, in.name)
			continue
		}
		f, args := flags(in.args)
		switch in.name {
		case "FROM":
			w := strings.Fields(args)
			st := stage{}
			switch {
			case len(w) == 1:
				st.base = w[0]
			case len(w) == 3 && strings.EqualFold(w[1], "AS"):
				st.base, st.name = w[0], w[2]
			default:
				bad("line %d: FROM %s: want FROM image [AS name]", in.line, args)
				continue
			}
			d.stages = append(d.stages, st)
			d.user, d.entrypoint, d.cmd, d.exposes, cmdSet = "", nil, nil, nil, false
		case "ARG":
			for _, a := range strings.Fields(args) {
				name, _, _ := strings.Cut(a, "=")
				d.args = append(d.args, name)
			}
		case "RUN":
			d.runs = append(d.runs, args)
		case "COPY", "ADD":
			w, _ := words(args)
			if len(w) < 2 {
				bad("line %d: %s needs a source and a destination", in.line, in.name)
				continue
			}
			from, ok := f["from"]
			if !ok {
				d.copies = append(d.copies, w[:len(w)-1]...)
				continue
			}
			if !strings.ContainsAny(from, ":/") && !slices.ContainsFunc(d.stages, func(s stage) bool { return s.name == from }) {
				if _, err := strconv.Atoi(from); err != nil {
					bad("line %d: COPY --from=%s: no earlier stage has that name", in.line, from)
				}
			}
		case "USER":
			d.user = args
		case "ENTRYPOINT", "CMD":
			w, isJSON := words(args)
			if !isJSON {
				if strings.HasPrefix(args, "[") {
					bad("line %d: %s %s is not a valid JSON array (it would run through a shell)", in.line, in.name, args)
				}
				w = []string{"/bin/sh", "-c", args}
			}
			if in.name == "CMD" {
				d.cmd, cmdSet = w, true
			} else if d.entrypoint = w; !cmdSet {
				d.cmd = nil // ENTRYPOINT resets a CMD inherited from the base image
			}
		case "EXPOSE":
			for _, p := range strings.Fields(args) {
				d.exposes = append(d.exposes, strings.TrimSuffix(p, "/tcp"))
			}
		}
	}
	if len(d.stages) == 0 {
		bad("no FROM")
		return nil, problems
	}
	d.final = d.stages[len(d.stages)-1]
	if why := rootUser(d.user, d.final.base); why != "" {
		bad("final stage %s", why)
	}
	if len(d.entrypoint) == 0 && len(d.cmd) == 0 {
		bad("final stage has neither ENTRYPOINT nor CMD")
	}
	problems = append(problems, checkContext(root, rel, d.copies)...)
	return d, problems
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }

// rootUser explains why a final stage runs as root, or returns "".
// Kubernetes' runAsNonRoot can only verify a numeric user.
func rootUser(user, base string) string {
	if user == "" {
		if strings.HasSuffix(base, ":nonroot") { // distroless: numeric 65532
			return ""
		}
		return fmt.Sprintf("runs as root (no USER, base %s)", base)
	}
	uid, _, _ := strings.Cut(user, ":")
	n, err := strconv.Atoi(uid)
	switch {
	case err != nil:
		return fmt.Sprintf("USER %s is not numeric (Kubernetes runAsNonRoot cannot verify a name)", user)
	case n == 0:
		return "USER is root (uid 0)"
	}
	return ""
}

// checkContext requires every COPY source to exist in the build context and
// no file the image needs to be excluded by .dockerignore.
func checkContext(root, rel string, sources []string) []string {
	var problems []string
	var pm *patternmatcher.PatternMatcher
	if f, err := os.Open(filepath.Join(root, ".dockerignore")); err == nil {
		patterns, perr := ignorefile.ReadAll(f)
		f.Close()
		if perr == nil {
			pm, perr = patternmatcher.New(patterns)
		}
		if perr != nil {
			return []string{".dockerignore: " + perr.Error()}
		}
	}
	excluded := func(p string) bool {
		if pm == nil {
			return false
		}
		ok, _ := pm.MatchesOrParentMatches(filepath.ToSlash(p))
		return ok
	}
	for _, src := range sources {
		src = strings.TrimPrefix(filepath.Clean(src), "/")
		matches, _ := filepath.Glob(filepath.Join(root, src))
		if len(matches) == 0 {
			if !strings.ContainsAny(src, "*?[") { // an optional glob may match nothing
				problems = append(problems, fmt.Sprintf("%s: COPY source %s does not exist", rel, src))
			}
			continue
		}
		var lost []string
		for _, m := range matches {
			_ = filepath.WalkDir(m, func(path string, e fs.DirEntry, err error) error {
				if err != nil || e.IsDir() || !needed(e.Name()) {
					return err
				}
				if p, _ := filepath.Rel(root, path); excluded(p) {
					lost = append(lost, filepath.ToSlash(p))
				}
				return nil
			})
		}
		switch {
		case len(lost) == 1 && lost[0] == src:
			problems = append(problems, fmt.Sprintf("%s: copies %s, but .dockerignore excludes it", rel, src))
		case len(lost) == 1:
			problems = append(problems, fmt.Sprintf("%s: copies %s, but .dockerignore excludes %s", rel, src, lost[0]))
		case len(lost) > 1:
			problems = append(problems, fmt.Sprintf("%s: copies %s, but .dockerignore excludes %s and %d more", rel, src, lost[0], len(lost)-1))
		}
	}
	return problems
}

// needed reports whether a file is one that an image build cannot do without.
func needed(name string) bool {
	switch {
	case name == "go.work" || name == "go.work.sum" || name == "go.mod" || name == "go.sum":
		return true
	case strings.HasSuffix(name, "_test.go"):
		return false
	}
	return slices.Contains([]string{".go", ".sh", ".sql"}, filepath.Ext(name))
}

// workspace is what go.work says.
type workspace struct {
	Go  string
	Use []struct{ DiskPath string }
}

func readWorkspace(root string) (*workspace, error) {
	out, err := exec.Command("go", "work", "edit", "-json", filepath.Join(root, "go.work")).Output()
	if err != nil {
		return nil, fmt.Errorf("go work edit -json: %w", err)
	}
	var w workspace
	return &w, json.Unmarshal(out, &w)
}

// checkGoImage holds the service image's Dockerfile to the build we want:
// an ARG SERVICE selecting ./services/$SERVICE/cmd/$SERVICE, a static trimmed
// build, the workspace's module files copied before the sources, a Go image
// of go.work's version, and a final stage without a shell or root.
func checkGoImage(root string, d *dockerfile, services []string) []string {
	var problems []string
	bad := func(format string, args ...any) {
		problems = append(problems, d.path+": "+fmt.Sprintf(format, args...))
	}
	if !slices.Contains(d.args, "SERVICE") {
		bad("no ARG SERVICE")
	}
	build := ""
	for _, r := range d.runs {
		if strings.Contains(r, "go build") {
			build = r
		}
	}
	switch {
	case build == "":
		bad("no RUN go build")
	default:
		for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-s -w"} {
			if !strings.Contains(build, want) {
				bad("go build without %s", want)
			}
		}
		if !strings.Contains(build, "./services/${SERVICE}/cmd/${SERVICE}") && !strings.Contains(build, "./services/$SERVICE/cmd/$SERVICE") {
			bad("go build does not build ./services/$SERVICE/cmd/$SERVICE")
		}
	}
	base := d.final.base
	if !strings.HasPrefix(base, "gcr.io/distroless/static") && base != "scratch" {
		bad("final stage %s is not distroless static or scratch", base)
	}

	ws, err := readWorkspace(root)
	if err != nil {
		return append(problems, err.Error())
	}
	if want := "golang:" + goMinor(ws.Go); !strings.HasPrefix(d.stages[0].base, want) {
		bad("build stage %s, want %s (go.work says go %s)", d.stages[0].base, want, ws.Go)
	}
	firstSource := len(d.copies)
	for i, c := range d.copies {
		if c != "go.work" && !strings.HasPrefix(c, "go.work.sum") && filepath.Base(c) != "go.mod" && filepath.Base(c) != "go.sum" {
			firstSource = i
			break
		}
	}
	early := d.copies[:firstSource]
	if !slices.Contains(early, "go.work") {
		bad("does not COPY go.work before the sources")
	}
	for _, u := range ws.Use {
		dir := filepath.ToSlash(filepath.Clean(u.DiskPath))
		if !slices.Contains(early, dir+"/go.mod") {
			bad("does not COPY %s/go.mod before the sources (go.work uses it; layer caching and the workspace need it)", dir)
		}
		if _, err := os.Stat(filepath.Join(root, dir, "go.sum")); err == nil && !slices.Contains(early, dir+"/go.sum") {
			bad("does not COPY %s/go.sum before the sources", dir)
		}
	}
	for _, dir := range append([]string{"pkg"}, services...) {
		if !covered(d.copies[firstSource:], dir) {
			bad("does not COPY %s", dir)
		}
	}
	return problems
}

// goMinor turns "1.26.8" into "1.26".
func goMinor(v string) string {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return v
	}
	return parts[0] + "." + parts[1]
}

// covered reports whether one of the COPY sources includes path.
func covered(sources []string, path string) bool {
	for _, s := range sources {
		s = strings.TrimSuffix(filepath.ToSlash(filepath.Clean(s)), "/")
		if s == "." || s == path || strings.HasPrefix(path, s+"/") {
			return true
		}
	}
	return false
}
