package deploy_test

import (
	"bufio"
	"debug/elf"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/iamsentry/iamsentry/internal/cli"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct{ cmd, args string }

func readDockerfile(t *testing.T) []instruction {
	t.Helper()
	f, err := os.Open("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []instruction
	var cur string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if cur == "" && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if strings.HasSuffix(line, "\\") {
			cur += strings.TrimSuffix(line, "\\") + " "
			continue
		}
		cur += line
		cmd, args, _ := strings.Cut(cur, " ")
		out = append(out, instruction{strings.ToUpper(cmd), strings.TrimSpace(args)})
		cur = ""
	}
	return out
}

// finalStage returns the instructions after the last FROM.
func finalStage(ins []instruction) []instruction {
	last := 0
	for i, in := range ins {
		if in.cmd == "FROM" {
			last = i
		}
	}
	return ins[last:]
}

func execForm(t *testing.T, in instruction) []string {
	t.Helper()
	var v []string
	if err := json.Unmarshal([]byte(in.args), &v); err != nil {
		t.Fatalf("%s %s: want the exec (JSON) form: %v", in.cmd, in.args, err)
	}
	return v
}

// TestDockerfile checks the image: EXPOSE matches serve's gRPC and admin
// ports, a numeric non-root USER, ENTRYPOINT the binary the build stage
// copies, CMD serve, and a HEALTHCHECK that runs the binary's health probe
// against serve's port.
func TestDockerfile(t *testing.T) {
	final := finalStage(readDockerfile(t))
	var expose []string
	var entry, cmd []string
	var user, health, binary string
	for _, in := range final {
		switch in.cmd {
		case "EXPOSE":
			expose = append(expose, strings.Fields(in.args)...)
		case "USER":
			user = in.args
		case "ENTRYPOINT":
			entry = execForm(t, in)
		case "CMD":
			cmd = execForm(t, in)
		case "HEALTHCHECK":
			health = in.args
		case "COPY":
			if f := strings.Fields(in.args); strings.HasPrefix(f[0], "--from=") {
				binary = f[len(f)-1]
			}
		}
	}
	grpc := strconv.Itoa(int(port(t, cli.ServeFlags().Lookup("listen").DefValue)))
	admin := strconv.Itoa(int(port(t, serveArgs{"serve"}.value("admin-listen", defaultAdminListen))))
	for _, p := range []string{grpc, admin} {
		if !slices.Contains(expose, p) {
			t.Errorf("EXPOSE %v: missing %s", expose, p)
		}
	}
	uid, _, _ := strings.Cut(user, ":")
	if n, err := strconv.Atoi(uid); err != nil || n == 0 {
		t.Errorf("USER %q: want a numeric non-root user (runAsNonRoot can only verify numbers)", user)
	}
	if len(entry) != 1 || entry[0] != binary {
		t.Errorf("ENTRYPOINT %q: want [%q], the binary the final stage copies", entry, binary)
	}
	if !slices.Equal(cmd, []string{"serve"}) {
		t.Errorf("CMD %q: want [serve]", cmd)
	}
	_, probe, ok := strings.Cut(health, "CMD ")
	if !ok {
		t.Fatalf("HEALTHCHECK %q: want CMD in exec form", health)
	}
	hc := execForm(t, instruction{"HEALTHCHECK CMD", probe})
	if len(hc) < 2 || hc[0] != binary || hc[1] != "health" {
		t.Fatalf("HEALTHCHECK %q: want %s health ...", hc, binary)
	}
	if addr := argValue(hc, "addr"); !strings.HasSuffix(addr, ":"+grpc) {
		t.Errorf("HEALTHCHECK --addr %q: serve listens on %s", addr, grpc)
	}
}

// TestDockerfileHealthCommand checks the HEALTHCHECK's command line against
// the binary's health sub-command and its flags.
func TestDockerfileHealthCommand(t *testing.T) {
	for _, in := range finalStage(readDockerfile(t)) {
		if in.cmd == "HEALTHCHECK" {
			_, probe, _ := strings.Cut(in.args, "CMD ")
			if err := checkCommand(execForm(t, instruction{"HEALTHCHECK CMD", probe})[1:]); err != nil {
				t.Error(err)
			}
			return
		}
	}
	t.Error("no HEALTHCHECK")
}

var goBuild = regexp.MustCompile(`go build (.*) -o (\S+) (\S+)`)

// TestDockerfileBuild runs the Dockerfile's go build command here (same
// flags, CGO_ENABLED=0) and checks the result is static, carries the version
// the ldflags set, and that .dockerignore keeps every file the build needs.
func TestDockerfileBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	var run string
	for _, in := range readDockerfile(t) {
		if in.cmd == "RUN" && strings.Contains(in.args, "go build") {
			run = in.args
		}
	}
	if !strings.Contains(run, "CGO_ENABLED=0") || !strings.Contains(run, "-trimpath") {
		t.Errorf("go build %q: want CGO_ENABLED=0 and -trimpath", run)
	}
	m := goBuild.FindStringSubmatch(run)
	if m == nil {
		t.Fatalf("no go build in %q", run)
	}
	const version = "v0.0.0-deploytest"
	flags := strings.ReplaceAll(m[1], "${VERSION}", version)
	ldflags := regexp.MustCompile(`-ldflags "([^"]*)"`).FindStringSubmatch(flags)
	if ldflags == nil {
		t.Fatalf("no -ldflags in %q", flags)
	}
	out := filepath.Join(t.TempDir(), "iamsentry")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", ldflags[1], "-o", out, m[3])
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %v\n%s", cmd.Args, err, b)
	}
	got, err := exec.Command(out, "version").Output()
	if err != nil || !strings.Contains(string(got), version) {
		t.Errorf("iamsentry version: %q (%v): the -X ldflag does not reach cli.Version", got, err)
	}
	f, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary has an ELF interpreter: not static, it would not run on distroless/static")
		}
	}
	checkDockerignore(t, m[3])
}

// checkDockerignore checks that no .dockerignore pattern excludes go.mod,
// go.sum or a Go file of a package the binary is built from. A pattern
// matches a path or one of its parent folders; "**/" matches at any depth.
func checkDockerignore(t *testing.T, pkg string) {
	data, err := os.ReadFile("../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "list", "-deps", "-f", `{{if .Module}}{{if eq .Module.Path "github.com/iamsentry/iamsentry"}}{{.Dir}}{{end}}{{end}}`, pkg)
	cmd.Dir = ".."
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	root, _ := filepath.Abs("..")
	needed := []string{"go.mod", "go.sum"}
	for _, dir := range strings.Fields(string(b)) {
		rel, _ := filepath.Rel(root, dir)
		needed = append(needed, filepath.ToSlash(rel)+"/x.go")
	}
	for _, line := range strings.Split(string(data), "\n") {
		p := strings.TrimSpace(line)
		if p == "" || strings.HasPrefix(p, "#") {
			continue
		}
		for _, n := range needed {
			if excludes(p, n) {
				t.Errorf(".dockerignore %q excludes %s, which the image build needs", p, n)
			}
		}
	}
}

func excludes(pattern, path string) bool {
	anyDepth := strings.HasPrefix(pattern, "**/")
	pattern = strings.TrimPrefix(pattern, "**/")
	for p := path; p != "."; p = filepath.Dir(p) {
		if ok, _ := filepath.Match(pattern, p); ok {
			return true
		}
		if ok, _ := filepath.Match(pattern, filepath.Base(p)); ok && anyDepth {
			return true
		}
	}
	return false
}
