package deploy

import (
	"bufio"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const finalBaseImage = "gcr.io/distroless/static-debian12:nonroot"

// instruction is one Dockerfile instruction with its continuation lines joined.
type instruction struct {
	cmd  string // upper case: FROM, RUN, ...
	args string
}

// stage is one FROM ... section of a multi-stage Dockerfile.
type stage struct {
	from         string // the image reference
	name         string // the AS name, if any
	instructions []instruction
}

// parseDockerfile splits a Dockerfile into stages. It handles comments, blank lines,
// backslash continuations and the parser directives that precede the first FROM; it is
// enough for asserting what our own Dockerfiles contain, not a general parser.
func parseDockerfile(text string) ([]stage, []instruction) {
	var (
		stages []stage
		global []instruction
		joined strings.Builder
	)
	flush := func() {
		line := strings.TrimSpace(joined.String())
		joined.Reset()
		if line == "" {
			return
		}
		cmd, args, _ := strings.Cut(line, " ")
		in := instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)}
		if in.cmd == "FROM" {
			stages = append(stages, newStage(in.args))
			return
		}
		if len(stages) == 0 {
			global = append(global, in)
			return
		}
		last := &stages[len(stages)-1]
		last.instructions = append(last.instructions, in)
	}
	scanner := bufio.NewScanner(strings.NewReader(text))
	for scanner.Scan() {
		line := strings.TrimSpace(scanner.Text())
		if strings.HasPrefix(line, "#") {
			continue
		}
		if cont, ok := strings.CutSuffix(line, "\\"); ok {
			joined.WriteString(cont + " ")
			continue
		}
		joined.WriteString(line)
		flush()
	}
	flush()
	return stages, global
}

// newStage parses "FROM [--platform=...] image [AS name]".
func newStage(args string) stage {
	var fields []string
	for _, f := range strings.Fields(args) {
		if !strings.HasPrefix(f, "--") {
			fields = append(fields, f)
		}
	}
	s := stage{}
	if len(fields) > 0 {
		s.from = fields[0]
	}
	if len(fields) == 3 && strings.EqualFold(fields[1], "AS") {
		s.name = fields[2]
	}
	return s
}

func (s stage) all(cmd string) []instruction {
	var out []instruction
	for _, in := range s.instructions {
		if in.cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

var dockerfiles = []struct {
	file   string
	pkg    string // the main package the image is built from
	binary string
	port   string
	plane  plane
}{
	{file: "docker/controlplane.Dockerfile", pkg: "./controlplane/cmd/portcullis-controlplane", binary: "portcullis-controlplane", port: "8443", plane: controlplanePlane},
	{file: "docker/gateway.Dockerfile", pkg: "./dataplane/cmd/portcullis-gateway", binary: "portcullis-gateway", port: "8443", plane: gatewayPlane},
}

// TestDockerfilesBuildExistingPackages: an image built from a renamed or moved main
// package would fail only at docker build time, which no test here runs.
func TestDockerfilesBuildExistingPackages(t *testing.T) {
	for _, df := range dockerfiles {
		t.Run(filepath.Base(df.file), func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("..", df.pkg, "main.go"))
			switch {
			case err != nil:
				t.Fatalf("the image builds %s: %v", df.pkg, err)
			case !strings.Contains(string(data), "package main"):
				t.Errorf("%s/main.go is not package main", df.pkg)
			}
		})
	}
}

func TestDockerfiles(t *testing.T) {
	for _, df := range dockerfiles {
		t.Run(filepath.Base(df.file), func(t *testing.T) {
			data, err := os.ReadFile(df.file)
			if err != nil {
				t.Fatal(err)
			}
			stages, _ := parseDockerfile(string(data))
			for _, problem := range dockerfileProblems(stages, df.pkg, df.binary, df.port) {
				t.Error(problem)
			}
		})
	}
}

var goBuildImage = regexp.MustCompile(`^golang:(\$\{GO_VERSION\}|1\.26)`)

// dockerfileProblems checks the multi-stage shape: a Go 1.26 build stage producing a
// static, trimmed, stripped binary, and a distroless nonroot final stage that runs only
// that binary as uid 65532.
func dockerfileProblems(stages []stage, pkg, binary, port string) []string {
	var problems []string
	if len(stages) < 2 {
		return []string{"not a multi-stage build"}
	}
	build := stages[0]
	if !goBuildImage.MatchString(build.from) {
		problems = append(problems, "build stage is "+build.from+", want golang:1.26")
	}
	var goBuild string
	for _, run := range build.all("RUN") {
		if strings.Contains(run.args, "go build") {
			goBuild = run.args
		}
	}
	cgoOff := strings.Contains(goBuild, "CGO_ENABLED=0")
	for _, env := range build.all("ENV") {
		cgoOff = cgoOff || strings.Contains(env.args, "CGO_ENABLED=0")
	}
	switch {
	case goBuild == "":
		problems = append(problems, "no go build in the build stage")
	default:
		for _, want := range []string{"-trimpath", `-ldflags "-s -w"`, pkg} {
			if !strings.Contains(goBuild, want) {
				problems = append(problems, "go build lacks "+want)
			}
		}
	}
	if !cgoOff {
		problems = append(problems, "CGO_ENABLED=0 is not set for the build")
	}
	return append(problems, finalStageProblems(stages[len(stages)-1], binary, port)...)
}

func finalStageProblems(final stage, binary, port string) []string {
	var problems []string
	if final.from != finalBaseImage {
		problems = append(problems, "final stage is "+final.from+", want "+finalBaseImage)
	}
	users := final.all("USER")
	if len(users) == 0 || !strings.HasPrefix(users[len(users)-1].args, "65532") {
		problems = append(problems, "final stage does not run as USER 65532")
	}
	// Distroless has no shell: a RUN or shell-form HEALTHCHECK there could never work.
	for _, cmd := range []string{"RUN", "HEALTHCHECK", "ADD"} {
		if len(final.all(cmd)) > 0 {
			problems = append(problems, "final stage uses "+cmd)
		}
	}
	if expose := final.all("EXPOSE"); len(expose) == 0 || !slices.Contains(strings.Fields(expose[0].args), port) {
		problems = append(problems, "final stage does not EXPOSE "+port)
	}
	entry := final.all("ENTRYPOINT")
	var argv []string
	if len(entry) != 1 || json.Unmarshal([]byte(entry[0].args), &argv) != nil || len(argv) == 0 ||
		filepath.Base(argv[0]) != binary {
		problems = append(problems, "ENTRYPOINT is not the exec form of "+binary)
	}
	for _, in := range append(final.all("ENV"), final.all("ARG")...) {
		for name := range envArgs(in.args) {
			// A *_FILE variable names where a secret is mounted, not the secret.
			if secretLooking.MatchString(name) && !strings.HasSuffix(name, "_FILE") {
				problems = append(problems, "secret-looking "+in.cmd+" in the image: "+name)
			}
		}
	}
	return problems
}

var secretLooking = regexp.MustCompile(`(?i)(KEY|PASSWORD|SECRET|TOKEN|DATABASE_URL)`)

// envArgs parses the NAME=value pairs of an ENV or ARG instruction (ARG NAME alone has
// an empty value). Values here never contain spaces.
func envArgs(args string) map[string]string {
	out := map[string]string{}
	for _, f := range strings.Fields(args) {
		name, value, _ := strings.Cut(f, "=")
		out[name] = strings.Trim(value, `"`)
	}
	return out
}

// TestDockerfileEnvMatchesConfig: the defaults baked into each image are variables its
// binary reads, listen on the exposed port, and point TLS at the conventional mount
// (/etc/portcullis/tls, the layout of a kubernetes.io/tls Secret) that the chart and
// compose use.
func TestDockerfileEnvMatchesConfig(t *testing.T) {
	for _, df := range dockerfiles {
		t.Run(filepath.Base(df.file), func(t *testing.T) {
			data, err := os.ReadFile(df.file)
			if err != nil {
				t.Fatal(err)
			}
			stages, _ := parseDockerfile(string(data))
			env := map[string]string{}
			for _, in := range stages[len(stages)-1].all("ENV") {
				maps.Copy(env, envArgs(in.args))
			}
			known := configEnvNames(t, df.plane.configFile)
			for _, name := range slices.Sorted(maps.Keys(env)) {
				if !slices.Contains(known, name) {
					t.Errorf("ENV %s is not read by %s", name, df.plane.configFile)
				}
			}
			if got, want := env["PORTCULLIS_LISTEN"], "0.0.0.0:"+df.port; got != want {
				t.Errorf("PORTCULLIS_LISTEN = %q, want %q (all interfaces, the exposed port)", got, want)
			}
			if env["PORTCULLIS_TLS_CERT_FILE"] != "/etc/portcullis/tls/tls.crt" || env["PORTCULLIS_TLS_KEY_FILE"] != "/etc/portcullis/tls/tls.key" {
				t.Errorf("TLS files = %q, %q, want /etc/portcullis/tls/tls.{crt,key}", env["PORTCULLIS_TLS_CERT_FILE"], env["PORTCULLIS_TLS_KEY_FILE"])
			}
			if env["PORTCULLIS_INSECURE_HTTP"] != "" {
				t.Error("the image enables plain HTTP")
			}
		})
	}
}

func TestDockerfileProblemsCatchesViolations(t *testing.T) {
	const good = `# syntax=docker/dockerfile:1.7
ARG GO_VERSION=1.26
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
ENV CGO_ENABLED=0
RUN go build -trimpath \
      -ldflags "-s -w" -o /out/app ./cmd/app
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/app /usr/local/bin/app
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/app"]
`
	check := func(text string) []string {
		stages, _ := parseDockerfile(text)
		return dockerfileProblems(stages, "./cmd/app", "app", "8080")
	}
	if p := check(good); len(p) > 0 {
		t.Fatalf("the compliant Dockerfile is reported: %v", p)
	}
	tests := []struct {
		name, old, new, want string
	}{
		{"single stage", "FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build\n", "", "multi-stage"},
		{"debian final stage", "static-debian12:nonroot", "base-debian12", "final stage is"},
		{"root user", "USER 65532:65532", "USER root", "USER 65532"},
		{"cgo on", "ENV CGO_ENABLED=0", "ENV CGO_ENABLED=1", "CGO_ENABLED=0"},
		{"not stripped", `-ldflags "-s -w" `, "", "-ldflags"},
		{"paths kept", "-trimpath", "", "-trimpath"},
		{"shell in final stage", "EXPOSE 8080", "EXPOSE 8080\nRUN echo hi", "uses RUN"},
		{"shell-form entrypoint", `ENTRYPOINT ["/usr/local/bin/app"]`, "ENTRYPOINT /usr/local/bin/app", "ENTRYPOINT"},
		{"no expose", "EXPOSE 8080", "", "EXPOSE"},
		{"baked secret", "EXPOSE 8080", "EXPOSE 8080\nENV PORTCULLIS_MASTER_KEY=abc", "secret-looking"},
		{"baked secret among paths", "EXPOSE 8080", "EXPOSE 8080\nENV PORTCULLIS_TLS_KEY_FILE=/k \\\n    PORTCULLIS_SESSION_KEYS=abc", "PORTCULLIS_SESSION_KEYS"},
		{"wrong package", "./cmd/app", "./cmd/other", "go build lacks ./cmd/app"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := strings.Replace(good, tt.old, tt.new, 1)
			if text == good {
				t.Fatalf("mutation %q did not apply", tt.old)
			}
			problems := check(text)
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, tt.want) }) {
				t.Errorf("problems %q do not mention %q", problems, tt.want)
			}
		})
	}
}

// TestDockerignoreKeepsWorkspaceAndDropsSecrets: the build context must hold every
// module go.work lists (or the build fails) and must not ship VCS data, local state or
// secrets.
func TestDockerignoreKeepsWorkspaceAndDropsSecrets(t *testing.T) {
	patterns := readLines(t, "../.dockerignore")
	for _, want := range []string{".git", "**/.data", "**/.env", "**/*.pem", "**/*.key"} {
		if !slices.Contains(patterns, want) {
			t.Errorf(".dockerignore lacks %q", want)
		}
	}
	for _, module := range workspaceModules(t) {
		for _, p := range patterns {
			if matched, _ := filepath.Match(p, module); matched || p == module || strings.HasPrefix(module+"/", p+"/") {
				t.Errorf(".dockerignore pattern %q drops workspace module %s", p, module)
			}
		}
	}
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") {
			lines = append(lines, line)
		}
	}
	return lines
}

// workspaceModules lists the directories in go.work's use block, relative to the root.
func workspaceModules(t *testing.T) []string {
	t.Helper()
	var modules []string
	inUse := false
	for _, line := range readLines(t, "../go.work") {
		switch {
		case strings.HasPrefix(line, "use ("):
			inUse = true
		case inUse && line == ")":
			inUse = false
		case inUse || strings.HasPrefix(line, "use "):
			dir := strings.TrimSpace(strings.TrimPrefix(line, "use "))
			modules = append(modules, strings.TrimPrefix(filepath.Clean(dir), "./"))
		}
	}
	if len(modules) == 0 {
		t.Fatal("no modules found in go.work")
	}
	return modules
}
