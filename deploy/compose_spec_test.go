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
