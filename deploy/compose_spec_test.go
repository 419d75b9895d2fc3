package deploy

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
)

// composeTestEnv are the variables docker-compose.yml requires; values are dummies.
func composeTestEnv() types.Mapping {
	return types.Mapping{
		"POSTGRES_PASSWORD":          "test-superuser-password",
		"PORTCULLIS_DB_PASSWORD":     "test-app-password",
		"PORTCULLIS_MASTER_KEY":      "bWFzdGVyLWtleS1tYXN0ZXIta2V5LW1hc3Rlci1rZXk=",
		"PORTCULLIS_BUNDLE_SEAL_KEY": "c2VhbC1rZXktc2VhbC1rZXktc2VhbC1rZXktc2VhbC0=",
		"PORTCULLIS_ISSUERS":         `[{"issuer":"https://idp.example.com/","audiences":["portcullis-admin"]}]`,
		"PORTCULLIS_SESSION_KEYS":    dummySessionKeys,
		"PORTCULLIS_GATEWAY_ISSUERS": `[{"issuer":"https://idp.example.com/"}]`,
	}
}

// loadComposeProject loads docker-compose.yml with the compose specification's own
// loader (the library docker compose uses): schema validation, interpolation, merge
// keys and consistency checks, exactly as `docker compose config` would.
func loadComposeProject(env types.Mapping) (*types.Project, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	root, err := filepath.Abs("..")
	if err != nil {
		return nil, err
	}
	details := types.ConfigDetails{
		WorkingDir:  root,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(root, "docker-compose.yml")}},
		Environment: env,
	}
	return loader.LoadWithContext(ctx, details)
}

func TestComposeFileIsValidCompose(t *testing.T) {
	project, err := loadComposeProject(composeTestEnv())
	if err != nil {
		t.Fatalf("docker compose would reject docker-compose.yml: %v", err)
	}
	if project.Name != "portcullis" {
		t.Errorf("project name = %q", project.Name)
	}
	want := []string{"bundle-keys", "controlplane", "gateway-1", "gateway-2", "nats", "postgres"}
	if got := slices.Sorted(func(yield func(string) bool) {
		for name := range project.Services {
			if !yield(name) {
				return
			}
		}
	}); !slices.Equal(got, want) {
		t.Errorf("services = %v, want %v", got, want)
	}
	// The merged (<<: *anchor) result as compose sees it: every service is hardened.
	for name, svc := range project.Services {
		if !svc.ReadOnly || svc.Privileged || !slices.Contains(svc.CapDrop, "ALL") ||
			!slices.Contains(svc.SecurityOpt, "no-new-privileges:true") {
			t.Errorf("%s as loaded by compose: read_only=%v privileged=%v cap_drop=%v security_opt=%v",
				name, svc.ReadOnly, svc.Privileged, svc.CapDrop, svc.SecurityOpt)
		}
	}
	gw := project.Services["gateway-2"]
	if id := gw.Environment["PORTCULLIS_GATEWAY_ID"]; id == nil || *id != "gateway-2" {
		t.Errorf("gateway-2 PORTCULLIS_GATEWAY_ID = %v", id)
	}
	dsn := project.Services["controlplane"].Environment["DATABASE_URL"]
	if dsn == nil || !strings.Contains(*dsn, "test-app-password@postgres:5432/portcullis") {
		t.Errorf("DATABASE_URL does not interpolate the app password: %v", dsn)
	}
}

// TestComposeRefusesToStartWithoutSecrets: each required secret missing makes compose
// fail with a message naming it, rather than start with an empty key.
func TestComposeRefusesToStartWithoutSecrets(t *testing.T) {
	for name := range composeTestEnv() {
		t.Run(name, func(t *testing.T) {
			env := composeTestEnv()
			delete(env, name)
			_, err := loadComposeProject(env)
			if err == nil || !strings.Contains(err.Error(), name) {
				t.Errorf("compose loads without %s: %v", name, err)
			}
		})
	}
}

// TestComposeConfigurationsPassPlaneVerification is the end-to-end check of the compose
// file against the binaries: each plane's environment, as compose interpolates it, goes
// through that plane's FromEnv and Verify; its certificate files are on read-only bind
// mounts of deploy/compose/certs (what make-certs.sh writes), and a gateway's snapshot
// file is on its own writable volume.
func TestComposeConfigurationsPassPlaneVerification(t *testing.T) {
	project, err := loadComposeProject(composeTestEnv())
	if err != nil {
		t.Fatal(err)
	}
	root, _ := filepath.Abs("..")
	certsDir := filepath.Join(root, "deploy", "compose", "certs")
	snapshotVolumes := map[string]string{}
	for _, svc := range []struct {
		name      string
		p         plane
		certsFrom string
	}{
		{"controlplane", controlplanePlane, "controlplane"},
		{"gateway-1", gatewayPlane, "gateway"},
		{"gateway-2", gatewayPlane, "gateway"},
	} {
		service := project.Services[svc.name]
		env := map[string]string{}
		for k, v := range service.Environment {
			if v != nil {
				env[k] = *v
			}
		}
		var mounts []mount
		for _, v := range service.Volumes {
			mounts = append(mounts, mount{volume: v.Type + ":" + v.Source, path: v.Target, readOnly: v.ReadOnly})
		}
		for _, p := range envProblems(t, svc.p, env) {
			t.Errorf("%s: %s", svc.name, p)
		}
		for _, name := range []string{"PORTCULLIS_TLS_CERT_FILE", "PORTCULLIS_TLS_KEY_FILE"} {
			for _, f := range splitFiles(env[name]) {
				m, ok := mountFor(mounts, f)
				if !ok || m.volume != "bind:"+filepath.Join(certsDir, svc.certsFrom) || !m.readOnly {
					t.Errorf("%s: %s %s is not on a read-only bind mount of deploy/compose/certs/%s (%+v)", svc.name, name, f, svc.certsFrom, m)
				}
			}
		}
		if svc.p.name != "gateway" {
			continue
		}
		m, ok := mountFor(mounts, env["PORTCULLIS_SNAPSHOT_FILE"])
		if !ok || !strings.HasPrefix(m.volume, "volume:") || m.readOnly {
			t.Errorf("%s: snapshot file is not on a writable named volume (%+v)", svc.name, m)
		}
		if other, dup := snapshotVolumes[m.volume]; dup {
			t.Errorf("%s and %s share the snapshot volume %s", other, svc.name, m.volume)
		}
		snapshotVolumes[m.volume] = svc.name
	}
	// Both gateways present the same public URL: tokens and sessions work on either.
	if a, b := project.Services["gateway-1"].Environment["PORTCULLIS_PUBLIC_URL"], project.Services["gateway-2"].Environment["PORTCULLIS_PUBLIC_URL"]; a == nil || b == nil || *a != *b {
		t.Errorf("gateways have different public URLs: %v, %v", a, b)
	}
}

// TestComposeBundleKeysJobUsesTLS: the job that fetches the bundle-signing keys talks
// HTTPS to the control plane and verifies it against the compose CA.
func TestComposeBundleKeysJobUsesTLS(t *testing.T) {
	project, err := loadComposeProject(composeTestEnv())
	if err != nil {
		t.Fatal(err)
	}
	job := project.Services["bundle-keys"]
	args := []string(job.Command)
	if len(args) == 0 || args[len(args)-1] != "https://controlplane:8443/v1/bundle-signing-keys" {
		t.Errorf("bundle-keys fetches %v, want https://controlplane:8443/v1/bundle-signing-keys last", args)
	}
	i := slices.Index(args, "--cacert")
	if i < 0 || i+1 >= len(args) {
		t.Fatalf("bundle-keys does not pin the CA with --cacert: %v", args)
	}
	root, _ := filepath.Abs("..")
	mounted := slices.ContainsFunc(job.Volumes, func(v types.ServiceVolumeConfig) bool {
		return v.Target == args[i+1] && v.ReadOnly && v.Source == filepath.Join(root, "deploy", "compose", "certs", "ca.pem")
	})
	if !mounted || slices.Contains(args, "--insecure") || slices.Contains(args, "-k") {
		t.Errorf("bundle-keys does not verify the control plane with deploy/compose/certs/ca.pem: %v %v", args, job.Volumes)
	}
}
