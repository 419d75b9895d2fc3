package deploy

import (
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const composeFile = "../docker-compose.yml"

// interpolation matches a compose variable that must be supplied ("${NAME:?message}"):
// the only acceptable form for a secret in a committed file.
var requiredInterpolation = regexp.MustCompile(`^\$\{[A-Z0-9_]+:\?[^}]*\}$`)

func loadCompose(t *testing.T) obj {
	t.Helper()
	data, err := os.ReadFile(composeFile)
	if err != nil {
		t.Fatal(err)
	}
	docs, err := decodeDocs(data)
	if err != nil {
		t.Fatalf("docker-compose.yml does not parse: %v", err)
	}
	if len(docs) != 1 {
		t.Fatalf("docker-compose.yml has %d documents, want 1", len(docs))
	}
	return docs[0]
}

func composeServices(t *testing.T) map[string]obj {
	t.Helper()
	services := map[string]obj{}
	for name, svc := range digObj(loadCompose(t), "services") {
		m, ok := svc.(obj)
		if !ok {
			t.Fatalf("service %s is not a mapping", name)
		}
		services[name] = m
	}
	return services
}

// composeEnv returns a service's environment whether written as a mapping or a list of
// NAME=value.
func composeEnv(svc obj) map[string]string {
	env := map[string]string{}
	switch e := dig(svc, "environment").(type) {
	case obj:
		for k, v := range e {
			env[k] = fmt.Sprint(v)
		}
	case []any:
		for _, item := range stringsOf(e) {
			k, v, _ := strings.Cut(item, "=")
			env[k] = v
		}
	}
	return env
}

func gatewayServices(services map[string]obj) []string {
	var names []string
	for name := range services {
		if strings.HasPrefix(name, "gateway") {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

func TestComposeTopology(t *testing.T) {
	services := composeServices(t)
	for _, name := range []string{"postgres", "nats", "controlplane", "gateway-1", "gateway-2"} {
		if _, ok := services[name]; !ok {
			t.Errorf("service %s missing", name)
		}
	}
	if got := gatewayServices(services); !slices.Equal(got, []string{"gateway-1", "gateway-2"}) {
		t.Errorf("gateway services = %v, want gateway-1 and gateway-2", got)
	}
	if img := digString(services["postgres"], "image"); !strings.HasPrefix(img, "postgres:15") {
		t.Errorf("postgres image = %q, want postgres:15", img)
	}
	nats := services["nats"]
	if img := digString(nats, "image"); !strings.HasPrefix(img, "nats:2.11") {
		t.Errorf("nats image = %q, want nats:2.11", img)
	}
	if !containsString(digList(nats, "command"), "-js") {
		t.Errorf("nats runs without JetStream: command %v", dig(nats, "command"))
	}
	for _, name := range []string{"postgres", "nats"} {
		if len(digList(services[name], "volumes")) == 0 {
			t.Errorf("%s keeps its data in the container (no volume)", name)
		}
		if len(digList(services[name], "healthcheck", "test")) == 0 {
			t.Errorf("%s has no healthcheck", name)
		}
	}
	for _, name := range append([]string{"controlplane"}, gatewayServices(services)...) {
		if user := digString(services[name], "user"); user != "65532:65532" {
			t.Errorf("%s runs as %q, want the images' nonroot 65532:65532", name, user)
		}
	}
	cp := services["controlplane"]
	for _, dep := range []string{"postgres", "nats"} {
		if got := digString(cp, "depends_on", dep, "condition"); got != "service_healthy" {
			t.Errorf("controlplane depends_on %s condition = %q, want service_healthy", dep, got)
		}
	}
}

func TestComposeDependenciesAreSatisfiable(t *testing.T) {
	services := composeServices(t)
	for name, svc := range services {
		for dep, spec := range digObj(svc, "depends_on") {
			target, ok := services[dep]
			if !ok {
				t.Errorf("%s depends on unknown service %s", name, dep)
				continue
			}
			switch cond := digString(spec, "condition"); cond {
			case "service_healthy":
				if len(digList(target, "healthcheck", "test")) == 0 {
					t.Errorf("%s waits for %s to be healthy, but %s has no healthcheck", name, dep, dep)
				}
			case "service_completed_successfully":
				if digString(target, "restart") != "no" {
					t.Errorf("%s waits for one-shot %s, which restarts (%q)", name, dep, digString(target, "restart"))
				}
			case "service_started":
			default:
				t.Errorf("%s depends_on %s with condition %q", name, dep, cond)
			}
		}
	}
}

func TestComposeServicesAreHardened(t *testing.T) {
	services := composeServices(t)
	for _, name := range slices.Sorted(maps.Keys(services)) {
		for _, problem := range composeServiceProblems(services[name]) {
			t.Errorf("%s: %s", name, problem)
		}
	}
}

// composeServiceProblems lists how a service falls short of the baseline: read-only
// root filesystem, all capabilities dropped, no-new-privileges, nothing privileged or
// sharing host namespaces, ports published on loopback only.
func composeServiceProblems(svc obj) []string {
	var problems []string
	if dig(svc, "privileged") == true {
		problems = append(problems, "privileged")
	}
	if dig(svc, "read_only") != true {
		problems = append(problems, "root filesystem is not read_only")
	}
	if !containsString(digList(svc, "cap_drop"), "ALL") {
		problems = append(problems, "cap_drop does not include ALL")
	}
	if added := digList(svc, "cap_add"); len(added) > 0 {
		problems = append(problems, fmt.Sprintf("cap_add %v", added))
	}
	if !containsString(digList(svc, "security_opt"), "no-new-privileges:true") {
		problems = append(problems, "security_opt lacks no-new-privileges:true")
	}
	for _, ns := range []string{"network_mode", "pid", "ipc", "userns_mode"} {
		if digString(svc, ns) == "host" {
			problems = append(problems, ns+" is host")
		}
	}
	if user := digString(svc, "user"); user == "" {
		problems = append(problems, "no explicit user")
	}
	for _, port := range stringsOf(digList(svc, "ports")) {
		if !strings.HasPrefix(port, "127.0.0.1:") {
			problems = append(problems, fmt.Sprintf("port %q is published beyond loopback", port))
		}
	}
	return problems
}

func TestComposeServiceProblemsCatchesViolations(t *testing.T) {
	good := func() obj {
		return obj{
			"read_only": true, "user": "65532:65532",
			"cap_drop": []any{"ALL"}, "security_opt": []any{"no-new-privileges:true"},
			"ports": []any{"127.0.0.1:8080:8080"},
		}
	}
	if p := composeServiceProblems(good()); len(p) > 0 {
		t.Fatalf("the compliant service is reported: %v", p)
	}
	tests := []struct {
		name    string
		breakIt func(obj)
		want    string
	}{
		{"privileged", func(s obj) { s["privileged"] = true }, "privileged"},
		{"writable root", func(s obj) { delete(s, "read_only") }, "read_only"},
		{"capabilities kept", func(s obj) { delete(s, "cap_drop") }, "cap_drop"},
		{"capability added", func(s obj) { s["cap_add"] = []any{"NET_ADMIN"} }, "cap_add"},
		{"setuid allowed", func(s obj) { delete(s, "security_opt") }, "no-new-privileges"},
		{"host network", func(s obj) { s["network_mode"] = "host" }, "network_mode"},
		{"image default user", func(s obj) { delete(s, "user") }, "user"},
		{"published on all interfaces", func(s obj) { s["ports"] = []any{"8080:8080"} }, "beyond loopback"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc := good()
			tt.breakIt(svc)
			problems := composeServiceProblems(svc)
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, tt.want) }) {
				t.Errorf("problems %q do not mention %q", problems, tt.want)
			}
		})
	}
}

func TestComposeEnvMatchesContract(t *testing.T) {
	services := composeServices(t)
	env := composeEnv(services["controlplane"])
	known := configEnvNames(t, controlplanePlane.configFile)
	for _, name := range slices.Sorted(maps.Keys(env)) {
		if !slices.Contains(known, name) {
			t.Errorf("controlplane env %s is not read by controlplane/internal/config", name)
		}
	}
	for _, name := range controlplanePlane.required {
		if env[name] == "" {
			t.Errorf("controlplane env %s is missing or empty", name)
		}
	}
	// With NATS_URL empty the control plane would run its own embedded NATS instead of
	// the shared one the gateways use.
	if got := env["NATS_URL"]; got != "nats://nats:4222" {
		t.Errorf("controlplane NATS_URL = %q, want nats://nats:4222", got)
	}
	ids := map[string]bool{}
	gatewayKnown := configEnvNames(t, gatewayPlane.configFile)
	for _, name := range gatewayServices(services) {
		genv := composeEnv(services[name])
		for _, key := range slices.Sorted(maps.Keys(genv)) {
			if !slices.Contains(gatewayKnown, key) {
				t.Errorf("%s env %s is not read by dataplane/internal/config", name, key)
			}
		}
		for _, key := range gatewayPlane.required {
			if genv[key] == "" {
				t.Errorf("%s env %s is missing or empty", name, key)
			}
		}
		if genv["NATS_URL"] != env["NATS_URL"] {
			t.Errorf("%s NATS_URL = %q, the control plane uses %q", name, genv["NATS_URL"], env["NATS_URL"])
		}
		if genv["PORTCULLIS_BUNDLE_SEAL_KEY"] != env["PORTCULLIS_BUNDLE_SEAL_KEY"] {
			t.Errorf("%s does not get the control plane's bundle seal key", name)
		}
		id := genv["PORTCULLIS_GATEWAY_ID"]
		if id == "" || ids[id] {
			t.Errorf("%s PORTCULLIS_GATEWAY_ID %q is empty or shared", name, id)
		}
		ids[id] = true
	}
}

// TestComposeCommitsNoSecrets: every secret is a required interpolation, so the file
// never carries a key or password and compose refuses to start without them.
func TestComposeCommitsNoSecrets(t *testing.T) {
	services := composeServices(t)
	secrets := map[string][]string{
		"postgres":     {"POSTGRES_PASSWORD", "PORTCULLIS_DB_PASSWORD"},
		"controlplane": {"PORTCULLIS_MASTER_KEY", "PORTCULLIS_BUNDLE_SEAL_KEY"},
		"gateway-1":    {"PORTCULLIS_BUNDLE_SEAL_KEY", "PORTCULLIS_SESSION_KEYS"},
		"gateway-2":    {"PORTCULLIS_BUNDLE_SEAL_KEY", "PORTCULLIS_SESSION_KEYS"},
	}
	for svc, names := range secrets {
		env := composeEnv(services[svc])
		for _, name := range names {
			if !requiredInterpolation.MatchString(env[name]) {
				t.Errorf("%s %s = %q, want a required ${VAR:?...} interpolation", svc, name, env[name])
			}
		}
	}
	dsn := composeEnv(services["controlplane"])["DATABASE_URL"]
	if !strings.Contains(dsn, "${PORTCULLIS_DB_PASSWORD:?") || strings.HasPrefix(dsn, "postgres://postgres:") {
		t.Errorf("DATABASE_URL %q must use the non-superuser role and an interpolated password", dsn)
	}
}

func TestRequiredInterpolation(t *testing.T) {
	tests := []struct {
		value string
		want  bool
	}{
		{"${PORTCULLIS_MASTER_KEY:?set it}", true},
		{"${PORTCULLIS_MASTER_KEY}", false},
		{"${PORTCULLIS_MASTER_KEY:-c2VjcmV0}", false},
		{"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI=", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := requiredInterpolation.MatchString(tt.value); got != tt.want {
			t.Errorf("requiredInterpolation(%q) = %v, want %v", tt.value, got, tt.want)
		}
	}
}

func TestComposeGatewaysVerifyBundlesWithPinnedKeys(t *testing.T) {
	services := composeServices(t)
	for _, name := range gatewayServices(services) {
		svc := services[name]
		file := composeEnv(svc)["PORTCULLIS_BUNDLE_KEYS_FILE"]
		mounted := false
		for _, v := range stringsOf(digList(svc, "volumes")) {
			parts := strings.Split(v, ":")
			if len(parts) == 3 && parts[2] == "ro" && strings.HasPrefix(file, parts[1]+"/") {
				mounted = true
			}
		}
		if file == "" || !mounted {
			t.Errorf("%s: bundle keys file %q is not on a read-only mount", name, file)
		}
	}
}

func TestComposeNetworksIsolateDataStores(t *testing.T) {
	services := composeServices(t)
	networks := func(svc string) []string { return stringsOf(digList(services[svc], "networks")) }
	for _, svc := range slices.Sorted(maps.Keys(services)) {
		if svc != "postgres" && svc != "controlplane" && slices.Contains(networks(svc), "data") {
			t.Errorf("%s can reach Postgres; only the control plane may", svc)
		}
	}
	top := digObj(loadCompose(t), "networks")
	for _, internal := range []string{"data", "bus"} {
		if dig(top, internal, "internal") != true {
			t.Errorf("network %s is not internal", internal)
		}
	}
}
