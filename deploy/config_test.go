package deploy

import (
	"encoding/base64"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/controlplane"
	"github.com/portcullis/portcullis/dataplane"
)

// The deployment files must configure each plane exactly as its configuration package
// reads the environment. Two checks tie them together: the variable names set must be
// names the package declares (parsed from its Env* constants, so a rename there fails
// here), and the rendered environment, with dummy secrets substituted, must pass the
// package's own FromEnv and Verify, the checks the binary runs before it starts.

// plane is one Portcullis binary as the deployment files see it.
type plane struct {
	name       string
	configFile string   // its configuration package, relative to deploy/
	required   []string // variables every deployment must set explicitly
	// verify runs the plane's FromEnv and Verify on an environment.
	verify func(getenv func(string) string) error
}

var (
	gatewayPlane = plane{
		name:       "gateway",
		configFile: "../dataplane/internal/config/config.go",
		required: []string{
			"PORTCULLIS_LISTEN", "PORTCULLIS_PUBLIC_URL", "PORTCULLIS_TLS_CERT_FILE", "PORTCULLIS_TLS_KEY_FILE",
			"NATS_URL", "PORTCULLIS_BUNDLE_KEYS_FILE", "PORTCULLIS_BUNDLE_SEAL_KEY", "PORTCULLIS_SESSION_KEYS",
			"PORTCULLIS_SNAPSHOT_FILE", "PORTCULLIS_GATEWAY_ID", "PORTCULLIS_ISSUERS", "PORTCULLIS_LOG_LEVEL",
		},
		verify: func(getenv func(string) string) error {
			c, err := dataplane.FromEnv(getenv)
			if err != nil {
				return err
			}
			return c.Verify()
		},
	}
	controlplanePlane = plane{
		name:       "controlplane",
		configFile: "../controlplane/internal/config/config.go",
		required: []string{
			"PORTCULLIS_LISTEN", "PORTCULLIS_TLS_CERT_FILE", "PORTCULLIS_TLS_KEY_FILE", "DATABASE_URL",
			"NATS_URL", "PORTCULLIS_ISSUERS", "PORTCULLIS_MASTER_KEY", "PORTCULLIS_BUNDLE_SEAL_KEY",
			"PORTCULLIS_LOG_LEVEL",
		},
		verify: func(getenv func(string) string) error {
			c, err := controlplane.FromEnv(getenv)
			if err != nil {
				return err
			}
			return c.Verify()
		},
	}
)

// configEnvNames returns the string values of the Env* constants declared in a
// configuration package's source file: the complete list of variables it reads.
func configEnvNames(t *testing.T, file string) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatalf("parse %s: %v", file, err)
	}
	var names []string
	for _, decl := range f.Decls {
		gen, ok := decl.(*ast.GenDecl)
		if !ok || gen.Tok != token.CONST {
			continue
		}
		for _, spec := range gen.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, id := range vs.Names {
				lit, ok := valueAt(vs, i).(*ast.BasicLit)
				if !strings.HasPrefix(id.Name, "Env") || !ok || lit.Kind != token.STRING {
					continue
				}
				name, err := strconv.Unquote(lit.Value)
				if err != nil {
					t.Fatalf("%s: constant %s: %v", file, id.Name, err)
				}
				names = append(names, name)
			}
		}
	}
	if len(names) < 5 {
		t.Fatalf("%s declares only %d Env* constants (%v): has the file moved?", file, len(names), names)
	}
	slices.Sort(names)
	return names
}

func valueAt(vs *ast.ValueSpec, i int) ast.Expr {
	if i < len(vs.Values) {
		return vs.Values[i]
	}
	return nil
}

func TestConfigEnvNamesAreParsed(t *testing.T) {
	for _, p := range []plane{gatewayPlane, controlplanePlane} {
		names := configEnvNames(t, p.configFile)
		for _, want := range p.required {
			if !slices.Contains(names, want) {
				t.Errorf("%s: %s does not declare %s (declares %v)", p.name, p.configFile, want, names)
			}
		}
	}
}

// envProblems lists how a container environment (name → value, secrets already
// substituted) falls short for a plane: unknown or missing names, or a configuration
// the plane itself refuses.
func envProblems(t *testing.T, p plane, env map[string]string) []string {
	t.Helper()
	known := configEnvNames(t, p.configFile)
	var problems []string
	for _, name := range slices.Sorted(maps.Keys(env)) {
		if !slices.Contains(known, name) {
			problems = append(problems, name+" is set but "+p.configFile+" does not read it")
		}
	}
	for _, name := range p.required {
		if strings.TrimSpace(env[name]) == "" {
			problems = append(problems, name+" is missing or empty")
		}
	}
	if err := p.verify(func(name string) string { return env[name] }); err != nil {
		problems = append(problems, "the "+p.name+" refuses this configuration: "+err.Error())
	}
	return problems
}

// Dummy values standing in for what Secrets hold at run time. They are well-formed, so
// that a failure of Verify points at the deployment files, not at the dummies.
var (
	dummyMasterKey   = base64.StdEncoding.EncodeToString([]byte(strings.Repeat("m", 32)))
	dummySealKey     = base64.StdEncoding.EncodeToString([]byte(strings.Repeat("s", 32)))
	dummySessionKeys = base64.StdEncoding.EncodeToString([]byte(strings.Repeat("k", 32))) + "," +
		base64.StdEncoding.EncodeToString([]byte(strings.Repeat("o", 48)))
	dummySecretValues = map[string]string{
		"DATABASE_URL":               "postgres://portcullis:dummy@db.internal:5432/portcullis?sslmode=verify-full",
		"PORTCULLIS_MASTER_KEY":      dummyMasterKey,
		"PORTCULLIS_BUNDLE_SEAL_KEY": dummySealKey,
		"PORTCULLIS_SESSION_KEYS":    dummySessionKeys,
		"NATS_URL":                   "nats://portcullis:dummy@nats.example:4222",
	}
)

// TestEnvProblemsCatchesBrokenConfigurations guards envProblems: a valid gateway
// environment passes, and each way of breaking it is reported.
func TestEnvProblemsCatchesBrokenConfigurations(t *testing.T) {
	good := func() map[string]string {
		return map[string]string{
			"PORTCULLIS_GATEWAY_ID":       "gw-0",
			"PORTCULLIS_LISTEN":           "0.0.0.0:8443",
			"PORTCULLIS_PUBLIC_URL":       "https://mcp.example.com",
			"PORTCULLIS_TLS_CERT_FILE":    "/etc/portcullis/tls/tls.crt",
			"PORTCULLIS_TLS_KEY_FILE":     "/etc/portcullis/tls/tls.key",
			"NATS_URL":                    "nats://nats:4222",
			"PORTCULLIS_BUNDLE_KEYS_FILE": "/etc/portcullis/bundle-keys/jwks.json",
			"PORTCULLIS_BUNDLE_SEAL_KEY":  dummySealKey,
			"PORTCULLIS_SESSION_KEYS":     dummySessionKeys,
			"PORTCULLIS_SNAPSHOT_FILE":    "/var/lib/portcullis/snapshot.json",
			"PORTCULLIS_ISSUERS":          `[{"issuer":"https://idp.example.com/"}]`,
			"PORTCULLIS_LOG_LEVEL":        "info",
		}
	}
	if p := envProblems(t, gatewayPlane, good()); len(p) > 0 {
		t.Fatalf("the valid gateway environment is reported: %v", p)
	}
	tests := []struct {
		name    string
		breakIt func(env map[string]string)
		want    string
	}{
		{"plain HTTP on all interfaces", func(e map[string]string) {
			delete(e, "PORTCULLIS_TLS_CERT_FILE")
			delete(e, "PORTCULLIS_TLS_KEY_FILE")
			e["PORTCULLIS_INSECURE_HTTP"] = "true"
		}, "not a loopback address"},
		{"certificate without key", func(e map[string]string) { delete(e, "PORTCULLIS_TLS_KEY_FILE") }, "same number of files"},
		{"misspelt variable", func(e map[string]string) { e["PORTCULLIS_SESSION_KEY"] = dummySessionKeys }, "does not read it"},
		{"provisional name", func(e map[string]string) { e["PORTCULLIS_CONTROLPLANE_URL"] = "https://cp:8443" }, "does not read it"},
		{"no session keys", func(e map[string]string) { delete(e, "PORTCULLIS_SESSION_KEYS") }, "PORTCULLIS_SESSION_KEYS is missing"},
		{"short session key", func(e map[string]string) { e["PORTCULLIS_SESSION_KEYS"] = "c2hvcnQ=" }, "refuses"},
		{"http public URL", func(e map[string]string) { e["PORTCULLIS_PUBLIC_URL"] = "http://mcp.example.com" }, "must be https"},
		{"no issuers", func(e map[string]string) { e["PORTCULLIS_ISSUERS"] = "[]" }, "PORTCULLIS_ISSUERS is required"},
		{"gateway id from an unresolved template", func(e map[string]string) { e["PORTCULLIS_GATEWAY_ID"] = "$(POD_NAME)" }, "PORTCULLIS_GATEWAY_ID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := good()
			tt.breakIt(env)
			problems := envProblems(t, gatewayPlane, env)
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, tt.want) }) {
				t.Errorf("problems %q do not mention %q", problems, tt.want)
			}
		})
	}
}

// mountFor returns the volume mount whose path contains file, if any.
type mount struct {
	volume   string // volume name (Kubernetes) or source (compose)
	path     string
	readOnly bool
}

func mountFor(mounts []mount, file string) (mount, bool) {
	best := mount{}
	for _, m := range mounts {
		dir := strings.TrimSuffix(m.path, "/") + "/"
		if strings.HasPrefix(file, dir) && len(m.path) > len(best.path) {
			best = m
		}
	}
	return best, best.path != ""
}

// splitFiles splits a comma-separated file list as both planes do.
func splitFiles(v string) []string {
	var out []string
	for _, f := range strings.Split(v, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
