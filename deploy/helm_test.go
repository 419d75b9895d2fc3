package deploy

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
)

const (
	chartDir         = "helm/portcullis"
	releaseName      = "pc"
	releaseNamespace = "portcullis"
	// Names the chart derives from releaseName ("pc-portcullis-<component>").
	controlplaneName = "pc-portcullis-controlplane"
	gatewayName      = "pc-portcullis-gateway"
	natsName         = "pc-portcullis-nats"
)

// chartCase is one set of value overrides the chart must lint and render cleanly with.
type chartCase struct {
	name   string
	values obj
}

// chartCases covers the toggles that change which objects are rendered.
var chartCases = []chartCase{
	{name: "defaults"},
	{name: "bundled NATS", values: obj{"nats": obj{"bundled": obj{"enabled": true}}}},
	{name: "HPA disabled", values: obj{"gateway": obj{"autoscaling": obj{"enabled": false}}}},
	{name: "external NATS URL from a Secret", values: obj{"nats": obj{"existingSecret": "nats-url"}}},
	{name: "named Secrets and issuers", values: obj{
		"secrets":  obj{"existingSecret": "portcullis-keys"},
		"postgres": obj{"existingSecret": "portcullis-db"},
		"gateway":  obj{"bundleKeys": obj{"existingSecret": "portcullis-jwks"}},
		"controlplane": obj{"issuers": []any{
			obj{"issuer": "https://idp.example.com/", "audiences": []any{"portcullis-admin"}},
		}},
	}},
	{name: "custom domains and named TLS Secrets", values: obj{
		"controlplane": obj{"tls": obj{"existingSecret": "admin-example-com-tls"}},
		"gateway": obj{
			"publicURL":      "https://mcp.example.com",
			"allowedOrigins": []any{"https://app.example.com"},
			"issuers":        []any{obj{"issuer": "https://agents.example.com/", "tenant_claim": "tid"}},
			"tls": obj{
				"existingSecret": "mcp-example-com-tls",
				"extraSecrets":   []any{"mcp-customer-com-tls", "mcp.other.example-tls"},
			},
			"service": obj{"port": 8443},
		},
	}},
}

// secretEnv are the variables whose values are secret: they must only ever come from
// a Secret reference, never from a literal rendered out of values.
var secretEnv = []string{"DATABASE_URL", "PORTCULLIS_MASTER_KEY", "PORTCULLIS_BUNDLE_SEAL_KEY", "PORTCULLIS_SESSION_KEYS"}

// manifest is one rendered Kubernetes object and the template it came from.
type manifest struct {
	source string
	obj    obj
}

func (m manifest) kind() string { return digString(m.obj, "kind") }
func (m manifest) name() string { return digString(m.obj, "metadata", "name") }

// rendered is the output of one chart render.
type rendered struct {
	manifests []manifest
	raw       string // every template's output, for plain-text searches
}

func (r rendered) ofKind(kind string) []manifest {
	var out []manifest
	for _, m := range r.manifests {
		if m.kind() == kind {
			out = append(out, m)
		}
	}
	return out
}

func (r rendered) find(kind, name string) (manifest, bool) {
	for _, m := range r.ofKind(kind) {
		if m.name() == name {
			return m, true
		}
	}
	return manifest{}, false
}

// workloads are the objects that run pods, with their pod template.
func (r rendered) workloads() []manifest {
	var out []manifest
	for _, m := range r.manifests {
		switch m.kind() {
		case "Deployment", "StatefulSet", "DaemonSet", "Job":
			out = append(out, m)
		}
	}
	return out
}

func podSpec(workload manifest) obj { return digObj(workload.obj, "spec", "template", "spec") }
func podLabels(workload manifest) obj {
	return digObj(workload.obj, "spec", "template", "metadata", "labels")
}

func loadChart(t *testing.T) *chart.Chart {
	t.Helper()
	chrt, err := loader.Load(chartDir)
	if err != nil {
		t.Fatalf("load chart: %v", err)
	}
	return chrt
}

// renderChart renders the chart as `helm template` would for an install, with the
// given overrides on top of values.yaml.
func renderChart(t *testing.T, values obj) rendered {
	t.Helper()
	out, err := renderTemplates(loadChart(t), values)
	if err != nil {
		t.Fatal(err)
	}
	var r rendered
	for _, source := range slices.Sorted(maps.Keys(out)) {
		text := out[source]
		r.raw += text + "\n"
		if strings.HasSuffix(source, "NOTES.txt") {
			continue
		}
		docs, err := decodeDocs([]byte(text))
		if err != nil {
			t.Fatalf("%s does not parse as YAML: %v\n%s", source, err, text)
		}
		for _, doc := range docs {
			r.manifests = append(r.manifests, manifest{source: source, obj: doc})
		}
	}
	return r
}

// renderTemplates validates values against values.schema.json and renders every
// template, as `helm template` does.
func renderTemplates(chrt *chart.Chart, values obj) (map[string]string, error) {
	// Helm coalesces chart defaults into the map it is given: keep the shared chartCases
	// unchanged for the other tests.
	values = deepCopy(values)
	opts := chartutil.ReleaseOptions{Name: releaseName, Namespace: releaseNamespace, Revision: 1, IsInstall: true}
	vals, err := chartutil.ToRenderValues(chrt, values, opts, chartutil.DefaultCapabilities)
	if err != nil {
		return nil, fmt.Errorf("render values: %w", err)
	}
	out, err := engine.Render(chrt, vals)
	if err != nil {
		return nil, fmt.Errorf("render: %w", err)
	}
	return out, nil
}

// TestChartSchemaRejectsUnsafeValues: values.schema.json stops an install that would
// weaken the hardening, put a secret into a literal, or configure an unusable issuer.
func TestChartSchemaRejectsUnsafeValues(t *testing.T) {
	tests := []struct {
		name   string
		values obj
	}{
		{"writable root filesystem", obj{"securityContext": obj{"readOnlyRootFilesystem": false}}},
		{"privilege escalation", obj{"securityContext": obj{"allowPrivilegeEscalation": true}}},
		{"root pods", obj{"podSecurityContext": obj{"runAsNonRoot": false}}},
		{"master key as a literal", obj{"controlplane": obj{"extraEnv": []any{obj{"name": "PORTCULLIS_MASTER_KEY", "value": "c2VjcmV0"}}}}},
		{"DSN as a literal", obj{"controlplane": obj{"extraEnv": []any{obj{"name": "DATABASE_URL", "value": "postgres://u:p@db/x"}}}}},
		{"seal key as a literal on gateways", obj{"gateway": obj{"extraEnv": []any{obj{"name": "PORTCULLIS_BUNDLE_SEAL_KEY", "value": "c2VjcmV0"}}}}},
		{"session keys as a literal on gateways", obj{"gateway": obj{"extraEnv": []any{obj{"name": "PORTCULLIS_SESSION_KEYS", "value": "c2VjcmV0"}}}}},
		{"plain-HTTP public URL", obj{"gateway": obj{"publicURL": "http://mcp.example.com"}}},
		{"public URL with a path", obj{"gateway": obj{"publicURL": "https://example.com/mcp"}}},
		{"TLS Secret name not a DNS name", obj{"gateway": obj{"tls": obj{"extraSecrets": []any{"Bad_Name"}}}}},
		{"unknown TLS setting", obj{"controlplane": obj{"tls": obj{"certFile": "/tmp/x.pem"}}}},
		{"gateway issuer not a URL", obj{"gateway": obj{"issuers": []any{obj{"issuer": "agents"}}}}},
		{"a secret value under secrets", obj{"secrets": obj{"masterKey": "c2VjcmV0"}}},
		{"issuer without audiences", obj{"controlplane": obj{"issuers": []any{obj{"issuer": "https://idp.example.com/"}}}}},
		{"issuer not a URL", obj{"controlplane": obj{"issuers": []any{obj{"issuer": "idp", "audiences": []any{"a"}}}}}},
		{"NATS URL with another scheme", obj{"nats": obj{"url": "http://nats:4222"}}},
		{"bad log level", obj{"gateway": obj{"logLevel": "verbose"}}},
		{"HPA without replicas", obj{"gateway": obj{"autoscaling": obj{"minReplicas": 0}}}},
	}
	chrt := loadChart(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := renderTemplates(chrt, tt.values)
			if err == nil || !strings.Contains(err.Error(), "schema") {
				t.Errorf("values not rejected by the schema: %v", err)
			}
		})
	}
}

// forEachCase runs check on the chart rendered with every chartCase.
func forEachCase(t *testing.T, check func(t *testing.T, c chartCase, r rendered)) {
	for _, c := range chartCases {
		t.Run(c.name, func(t *testing.T) {
			check(t, c, renderChart(t, c.values))
		})
	}
}

func TestChartLints(t *testing.T) {
	for _, c := range chartCases {
		t.Run(c.name, func(t *testing.T) {
			result := lint.All(chartDir, deepCopy(c.values), releaseNamespace, false)
			for _, msg := range result.Messages {
				if msg.Severity >= support.WarningSev {
					t.Errorf("lint: %s", msg)
				} else {
					t.Logf("lint: %s", msg)
				}
			}
		})
	}
}

// TestChartLintCanFail guards TestChartLints: a copy of the chart with a malformed
// template must produce a lint error.
func TestChartLintCanFail(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "portcullis")
	if err := os.CopyFS(dir, os.DirFS(chartDir)); err != nil {
		t.Fatal(err)
	}
	broken := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [unclosed\n"
	if err := os.WriteFile(filepath.Join(dir, "templates", "broken.yaml"), []byte(broken), 0o600); err != nil {
		t.Fatal(err)
	}
	if result := lint.All(dir, obj{}, releaseNamespace, false); result.HighestSeverity < support.ErrorSev {
		t.Errorf("lint of a broken chart reported no error: %v", result.Messages)
	}
}

func TestChartRendersExpectedObjects(t *testing.T) {
	forEachCase(t, func(t *testing.T, c chartCase, r rendered) {
		want := []string{
			"Deployment/" + controlplaneName, "Service/" + controlplaneName,
			"PodDisruptionBudget/" + controlplaneName, "ServiceAccount/" + controlplaneName,
			"NetworkPolicy/" + controlplaneName,
			"Deployment/" + gatewayName, "Service/" + gatewayName,
			"PodDisruptionBudget/" + gatewayName, "ServiceAccount/" + gatewayName,
			"NetworkPolicy/" + gatewayName,
		}
		if natsBundled(c) {
			want = append(want,
				"StatefulSet/"+natsName, "Service/"+natsName, "Service/"+natsName+"-headless",
				"ConfigMap/"+natsName, "PodDisruptionBudget/"+natsName,
				"ServiceAccount/"+natsName, "NetworkPolicy/"+natsName)
		}
		for _, id := range want {
			kind, name, _ := strings.Cut(id, "/")
			if _, ok := r.find(kind, name); !ok {
				t.Errorf("%s not rendered", id)
			}
		}
		if !natsBundled(c) && len(r.ofKind("StatefulSet")) > 0 {
			t.Error("a StatefulSet is rendered although bundled NATS is disabled")
		}
	})
}

func natsBundled(c chartCase) bool { return dig(c.values, "nats", "bundled", "enabled") == true }

func TestChartWorkloadsAreHardened(t *testing.T) {
	forEachCase(t, func(t *testing.T, _ chartCase, r rendered) {
		if len(r.workloads()) == 0 {
			t.Fatal("no workloads rendered")
		}
		for _, w := range r.workloads() {
			for _, problem := range podSpecProblems(podSpec(w)) {
				t.Errorf("%s/%s: %s", w.kind(), w.name(), problem)
			}
		}
	})
}

// podSpecProblems lists every way a pod spec falls short of the hardening baseline:
// non-root, read-only root filesystem, no capabilities, no privilege escalation,
// RuntimeDefault seccomp, no API token, no host namespaces, probes and memory limits.
func podSpecProblems(spec obj) []string {
	var problems []string
	if spec == nil {
		return []string{"no pod spec"}
	}
	if dig(spec, "automountServiceAccountToken") != false {
		problems = append(problems, "automountServiceAccountToken is not false")
	}
	for _, host := range []string{"hostNetwork", "hostPID", "hostIPC"} {
		if dig(spec, host) == true {
			problems = append(problems, host+" is true")
		}
	}
	podNonRoot := dig(spec, "securityContext", "runAsNonRoot") == true
	if !podNonRoot {
		problems = append(problems, "pod securityContext.runAsNonRoot is not true")
	}
	if digString(spec, "securityContext", "runAsUser") == "0" {
		problems = append(problems, "pod runs as uid 0")
	}
	if digString(spec, "securityContext", "seccompProfile", "type") != "RuntimeDefault" {
		problems = append(problems, "pod seccompProfile is not RuntimeDefault")
	}
	containers := objs(digList(spec, "containers"))
	if len(containers) == 0 {
		problems = append(problems, "no containers")
	}
	for _, c := range containers {
		problems = append(problems, containerProblems(c, true)...)
	}
	for _, c := range objs(digList(spec, "initContainers")) {
		problems = append(problems, containerProblems(c, false)...)
	}
	return problems
}

// containerProblems checks one container; long-running ones also need probes.
func containerProblems(c obj, longRunning bool) []string {
	name := digString(c, "name")
	var problems []string
	add := func(format string, args ...any) {
		problems = append(problems, fmt.Sprintf("container %q: ", name)+fmt.Sprintf(format, args...))
	}
	sc := digObj(c, "securityContext")
	if dig(sc, "runAsNonRoot") != true {
		add("runAsNonRoot is not true")
	}
	if digString(sc, "runAsUser") == "0" {
		add("runs as uid 0")
	}
	if dig(sc, "readOnlyRootFilesystem") != true {
		add("readOnlyRootFilesystem is not true")
	}
	if dig(sc, "allowPrivilegeEscalation") != false {
		add("allowPrivilegeEscalation is not false")
	}
	if dig(sc, "privileged") == true {
		add("privileged")
	}
	if !containsString(digList(sc, "capabilities", "drop"), "ALL") {
		add("does not drop ALL capabilities")
	}
	if added := digList(sc, "capabilities", "add"); len(added) > 0 {
		add("adds capabilities %v", added)
	}
	if seccomp := digString(sc, "seccompProfile", "type"); seccomp != "" && seccomp != "RuntimeDefault" {
		add("seccompProfile %q", seccomp)
	}
	image := digString(c, "image")
	if _, tag, ok := strings.Cut(image, ":"); !ok || tag == "" || tag == "latest" {
		add("image %q is not pinned to a tag", image)
	}
	if digString(c, "resources", "limits", "memory") == "" {
		add("no memory limit")
	}
	if longRunning {
		for _, probe := range []string{"livenessProbe", "readinessProbe"} {
			if digObj(c, probe) == nil {
				add("no %s", probe)
			}
		}
	}
	return problems
}

// TestPodSpecProblemsCatchesViolations makes sure the hardening check above can fail:
// each case breaks one rule of a compliant pod spec.
func TestPodSpecProblemsCatchesViolations(t *testing.T) {
	tests := []struct {
		name    string
		breakIt func(spec obj)
		want    string
	}{
		{"root filesystem writable", func(s obj) { containerSC(s)["readOnlyRootFilesystem"] = false }, "readOnlyRootFilesystem"},
		{"capabilities kept", func(s obj) { delete(containerSC(s), "capabilities") }, "drop ALL"},
		{"capability added", func(s obj) { containerSC(s)["capabilities"] = obj{"drop": []any{"ALL"}, "add": []any{"NET_ADMIN"}} }, "adds capabilities"},
		{"escalation allowed", func(s obj) { delete(containerSC(s), "allowPrivilegeEscalation") }, "allowPrivilegeEscalation"},
		{"privileged", func(s obj) { containerSC(s)["privileged"] = true }, "privileged"},
		{"container may run as root", func(s obj) { delete(containerSC(s), "runAsNonRoot") }, "runAsNonRoot"},
		{"uid 0", func(s obj) { containerSC(s)["runAsUser"] = 0 }, "uid 0"},
		{"pod may run as root", func(s obj) { delete(digObj(s, "securityContext"), "runAsNonRoot") }, "pod securityContext.runAsNonRoot"},
		{"no seccomp", func(s obj) { delete(digObj(s, "securityContext"), "seccompProfile") }, "seccompProfile"},
		{"token mounted", func(s obj) { delete(s, "automountServiceAccountToken") }, "automountServiceAccountToken"},
		{"host network", func(s obj) { s["hostNetwork"] = true }, "hostNetwork"},
		{"no liveness probe", func(s obj) { delete(firstContainer(s), "livenessProbe") }, "livenessProbe"},
		{"no readiness probe", func(s obj) { delete(firstContainer(s), "readinessProbe") }, "readinessProbe"},
		{"latest image", func(s obj) { firstContainer(s)["image"] = "ghcr.io/portcullis/gateway:latest" }, "not pinned"},
		{"no memory limit", func(s obj) { delete(firstContainer(s), "resources") }, "memory limit"},
		{"unhardened init container", func(s obj) { s["initContainers"] = []any{obj{"name": "init", "image": "busybox:1"}} }, `container "init"`},
		{"no containers", func(s obj) { delete(s, "containers") }, "no containers"},
	}
	if problems := podSpecProblems(compliantPodSpec()); len(problems) > 0 {
		t.Fatalf("the compliant spec is reported: %v", problems)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := compliantPodSpec()
			tt.breakIt(spec)
			problems := podSpecProblems(spec)
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, tt.want) }) {
				t.Errorf("problems %q do not mention %q", problems, tt.want)
			}
		})
	}
}

func compliantPodSpec() obj {
	return obj{
		"automountServiceAccountToken": false,
		"securityContext": obj{
			"runAsNonRoot": true, "runAsUser": 65532,
			"seccompProfile": obj{"type": "RuntimeDefault"},
		},
		"containers": []any{obj{
			"name":  "app",
			"image": "ghcr.io/portcullis/gateway:0.1.0",
			"securityContext": obj{
				"runAsNonRoot": true, "readOnlyRootFilesystem": true, "allowPrivilegeEscalation": false,
				"capabilities": obj{"drop": []any{"ALL"}},
			},
			"resources":      obj{"limits": obj{"memory": "512Mi"}},
			"livenessProbe":  obj{"httpGet": obj{"path": "/healthz", "port": "http"}},
			"readinessProbe": obj{"httpGet": obj{"path": "/readyz", "port": "http"}},
		}},
	}
}

func firstContainer(spec obj) obj { return objs(digList(spec, "containers"))[0] }
func containerSC(spec obj) obj    { return digObj(firstContainer(spec), "securityContext") }

func TestChartProbesUseHealthEndpoints(t *testing.T) {
	forEachCase(t, func(t *testing.T, _ chartCase, r rendered) {
		for _, name := range []string{controlplaneName, gatewayName} {
			d, ok := r.find("Deployment", name)
			if !ok {
				t.Fatalf("Deployment %s not rendered", name)
			}
			c := firstContainer(podSpec(d))
			if got := digString(c, "livenessProbe", "httpGet", "path"); got != "/healthz" {
				t.Errorf("%s liveness probe path = %q, want /healthz", name, got)
			}
			if got := digString(c, "readinessProbe", "httpGet", "path"); got != "/readyz" {
				t.Errorf("%s readiness probe path = %q, want /readyz", name, got)
			}
			// Both planes serve only TLS: a plain-HTTP probe would fail the handshake and
			// the kubelet would restart healthy pods forever.
			for _, probe := range []string{"startupProbe", "livenessProbe", "readinessProbe"} {
				if got := digString(c, probe, "httpGet", "scheme"); got != "HTTPS" {
					t.Errorf("%s %s scheme = %q, want HTTPS", name, probe, got)
				}
				if got := digString(c, probe, "httpGet", "port"); got != "https" {
					t.Errorf("%s %s port = %q, want the container port named https", name, probe, got)
				}
			}
		}
	})
}

func TestChartGatewayAutoscaling(t *testing.T) {
	forEachCase(t, func(t *testing.T, c chartCase, r rendered) {
		gw, ok := r.find("Deployment", gatewayName)
		if !ok {
			t.Fatal("gateway Deployment not rendered")
		}
		hpas := r.ofKind("HorizontalPodAutoscaler")
		if dig(c.values, "gateway", "autoscaling", "enabled") == false {
			if len(hpas) != 0 {
				t.Errorf("HPA rendered although autoscaling is disabled")
			}
			if digString(gw.obj, "spec", "replicas") == "" {
				t.Errorf("gateway Deployment has no replicas while autoscaling is disabled")
			}
			return
		}
		if len(hpas) != 1 {
			t.Fatalf("got %d HPAs, want 1", len(hpas))
		}
		hpa := hpas[0].obj
		if got := digString(hpa, "apiVersion"); got != "autoscaling/v2" {
			t.Errorf("HPA apiVersion = %q, want autoscaling/v2", got)
		}
		target := digObj(hpa, "spec", "scaleTargetRef")
		if digString(target, "kind") != "Deployment" || digString(target, "name") != gw.name() ||
			digString(target, "apiVersion") != "apps/v1" {
			t.Errorf("HPA targets %v, want apps/v1 Deployment %s", target, gw.name())
		}
		min, max := digString(hpa, "spec", "minReplicas"), digString(hpa, "spec", "maxReplicas")
		if min == "" || max == "" {
			t.Errorf("HPA min/max replicas = %q/%q", min, max)
		}
		metric := objs(digList(hpa, "spec", "metrics"))
		if len(metric) == 0 || digString(metric[0], "resource", "name") != "cpu" ||
			digString(metric[0], "resource", "target", "averageUtilization") == "" {
			t.Errorf("HPA has no CPU utilisation target: %v", metric)
		}
		// With an HPA the Deployment must not pin replicas, or every upgrade would reset
		// the autoscaled count.
		if r := dig(gw.obj, "spec", "replicas"); r != nil {
			t.Errorf("gateway Deployment sets replicas=%v while an HPA manages it", r)
		}
	})
}

func TestChartPodDisruptionBudgetsSelectTheirPods(t *testing.T) {
	forEachCase(t, func(t *testing.T, _ chartCase, r rendered) {
		for _, w := range r.workloads() {
			pdb, ok := r.find("PodDisruptionBudget", w.name())
			if !ok {
				t.Errorf("no PodDisruptionBudget for %s/%s", w.kind(), w.name())
				continue
			}
			if !selects(digObj(pdb.obj, "spec", "selector", "matchLabels"), podLabels(w)) {
				t.Errorf("PDB %s does not select the pods of %s", pdb.name(), w.name())
			}
		}
	})
}

// selects reports whether a non-empty matchLabels selector matches labels.
func selects(matchLabels, labels obj) bool {
	if len(matchLabels) == 0 {
		return false
	}
	for k, v := range matchLabels {
		if fmt.Sprint(labels[k]) != fmt.Sprint(v) {
			return false
		}
	}
	return true
}

func TestChartNetworkPolicies(t *testing.T) {
	forEachCase(t, func(t *testing.T, _ chartCase, r rendered) {
		for _, w := range r.workloads() {
			np, ok := policyFor(r, w)
			if !ok {
				t.Errorf("no NetworkPolicy selects %s/%s", w.kind(), w.name())
				continue
			}
			types := digList(np.obj, "spec", "policyTypes")
			if !containsString(types, "Ingress") || !containsString(types, "Egress") {
				t.Errorf("NetworkPolicy %s policyTypes = %v, want Ingress and Egress", np.name(), types)
			}
			if !allowsEgressPort(np, "53") {
				t.Errorf("NetworkPolicy %s does not allow DNS", np.name())
			}
		}
		gw, _ := r.find("NetworkPolicy", gatewayName)
		if !allowsIngressFromAnywhere(gw, "8443") {
			t.Error("gateway NetworkPolicy does not admit agents on port 8443")
		}
		if !allowsEgressPort(gw, "4222") {
			t.Error("gateway NetworkPolicy does not allow egress to NATS (4222)")
		}
		// Gateways get everything through NATS; they never call the admin API.
		cpPods := obj{}
		if d, ok := r.find("Deployment", controlplaneName); ok {
			cpPods = podLabels(d)
		}
		for _, rule := range objs(digList(gw.obj, "spec", "egress")) {
			for _, peer := range objs(digList(rule, "to")) {
				if selects(digObj(peer, "podSelector", "matchLabels"), cpPods) {
					t.Errorf("gateway NetworkPolicy allows egress to the control plane: %v", rule)
				}
			}
		}
		if !allowsEgressPort(gw, "443") {
			t.Error("gateway NetworkPolicy does not allow egress to backends (443)")
		}
		cp, _ := r.find("NetworkPolicy", controlplaneName)
		for _, rule := range objs(digList(cp.obj, "spec", "ingress")) {
			if len(digList(rule, "from")) == 0 {
				t.Errorf("control plane NetworkPolicy admits anyone: %v", rule)
			}
			if !rulePorts(rule)["8443"] {
				t.Errorf("control plane NetworkPolicy rule is not for the admin port 8443: %v", rule)
			}
		}
		for _, port := range []string{"4222", "5432", "443"} {
			if !allowsEgressPort(cp, port) {
				t.Errorf("control plane NetworkPolicy does not allow egress to port %s", port)
			}
		}
		if allowsEgressPort(gw, "5432") {
			t.Error("gateway NetworkPolicy allows egress to Postgres; only the control plane may")
		}
	})
}

func policyFor(r rendered, w manifest) (manifest, bool) {
	for _, np := range r.ofKind("NetworkPolicy") {
		if selects(digObj(np.obj, "spec", "podSelector", "matchLabels"), podLabels(w)) {
			return np, true
		}
	}
	return manifest{}, false
}

func allowsIngressFromAnywhere(np manifest, port string) bool {
	for _, rule := range objs(digList(np.obj, "spec", "ingress")) {
		if len(digList(rule, "from")) == 0 && rulePorts(rule)[port] {
			return true
		}
	}
	return false
}

func allowsEgressPort(np manifest, port string) bool {
	for _, rule := range objs(digList(np.obj, "spec", "egress")) {
		if rulePorts(rule)[port] {
			return true
		}
	}
	return false
}

func rulePorts(rule obj) map[string]bool {
	ports := map[string]bool{}
	for _, p := range objs(digList(rule, "ports")) {
		ports[digString(p, "port")] = true
	}
	return ports
}

func TestChartServiceAccountsHaveNoToken(t *testing.T) {
	forEachCase(t, func(t *testing.T, _ chartCase, r rendered) {
		for _, sa := range r.ofKind("ServiceAccount") {
			if dig(sa.obj, "automountServiceAccountToken") != false {
				t.Errorf("ServiceAccount %s mounts a token", sa.name())
			}
		}
		for _, w := range r.workloads() {
			name := digString(podSpec(w), "serviceAccountName")
			if _, ok := r.find("ServiceAccount", name); !ok {
				t.Errorf("%s uses ServiceAccount %q, which the chart does not render", w.name(), name)
			}
		}
	})
}

func TestChartRendersNoSecretMaterial(t *testing.T) {
	forEachCase(t, func(t *testing.T, _ chartCase, r rendered) {
		if s := r.ofKind("Secret"); len(s) > 0 {
			t.Errorf("the chart renders Secrets (%s); secrets must come from existingSecret", s[0].name())
		}
		for _, w := range r.workloads() {
			for _, c := range objs(digList(podSpec(w), "containers")) {
				for _, problem := range secretEnvProblems(c) {
					t.Errorf("%s: %s", w.name(), problem)
				}
			}
		}
	})
}

// secretEnvProblems reports secret variables given as literal values.
func secretEnvProblems(container obj) []string {
	var problems []string
	for _, env := range objs(digList(container, "env")) {
		name := digString(env, "name")
		if !slices.Contains(secretEnv, name) {
			continue
		}
		if dig(env, "value") != nil || digString(env, "valueFrom", "secretKeyRef", "name") == "" ||
			digString(env, "valueFrom", "secretKeyRef", "key") == "" {
			problems = append(problems, fmt.Sprintf("%s is not read from a Secret: %v", name, env))
		}
	}
	return problems
}

func TestSecretEnvProblemsCatchesLiterals(t *testing.T) {
	literal := obj{"env": []any{obj{"name": "PORTCULLIS_MASTER_KEY", "value": "c2VjcmV0"}}}
	if len(secretEnvProblems(literal)) == 0 {
		t.Error("a literal master key is not reported")
	}
	fromSecret := obj{"env": []any{obj{"name": "DATABASE_URL", "valueFrom": obj{
		"secretKeyRef": obj{"name": "db", "key": "DATABASE_URL"}}}}}
	if p := secretEnvProblems(fromSecret); len(p) > 0 {
		t.Errorf("a Secret reference is reported: %v", p)
	}
}

// TestChartKeepsCredentialedNATSURLOutOfManifests: when the NATS URL embeds credentials
// and is given as a Secret, the plain nats.url value must not leak into any manifest.
func TestChartKeepsCredentialedNATSURLOutOfManifests(t *testing.T) {
	const canary = "nats://portcullis:CANARY-PASSWORD@nats.example:4222"
	r := renderChart(t, obj{"nats": obj{"url": canary, "existingSecret": "nats-url", "urlKey": "url"}})
	if strings.Contains(r.raw, "CANARY-PASSWORD") {
		t.Fatal("the credentialed NATS URL is rendered in plain text")
	}
	for _, name := range []string{controlplaneName, gatewayName} {
		d, _ := r.find("Deployment", name)
		env := envByName(firstContainer(podSpec(d)))["NATS_URL"]
		if digString(env, "valueFrom", "secretKeyRef", "name") != "nats-url" || digString(env, "valueFrom", "secretKeyRef", "key") != "url" {
			t.Errorf("%s NATS_URL = %v, want a reference to Secret nats-url key url", name, env)
		}
	}
}

func envByName(container obj) map[string]obj {
	out := map[string]obj{}
	for _, env := range objs(digList(container, "env")) {
		out[digString(env, "name")] = env
	}
	return out
}

func TestChartControlPlaneEnvMatchesContract(t *testing.T) {
	forEachCase(t, func(t *testing.T, c chartCase, r rendered) {
		d, ok := r.find("Deployment", controlplaneName)
		if !ok {
			t.Fatal("control plane Deployment not rendered")
		}
		env := envByName(firstContainer(podSpec(d)))
		known := configEnvNames(t, controlplanePlane.configFile)
		for _, name := range slices.Sorted(maps.Keys(env)) {
			if !slices.Contains(known, name) {
				t.Errorf("control plane env %s is not read by controlplane/internal/config", name)
			}
		}
		for _, name := range controlplanePlane.required {
			if _, ok := env[name]; !ok {
				t.Errorf("control plane env lacks %s", name)
			}
		}
		// An empty NATS_URL would make the control plane start its embedded server,
		// which a multi-replica deployment must never do.
		if nats := env["NATS_URL"]; digString(nats, "value") == "" && dig(nats, "valueFrom") == nil {
			t.Error("control plane NATS_URL is empty")
		}
		if natsBundled(c) && digString(env["NATS_URL"], "value") != "nats://"+natsName+":4222" {
			t.Errorf("with bundled NATS, NATS_URL = %v", env["NATS_URL"])
		}
		wantReplicas := "1"
		if natsBundled(c) {
			wantReplicas = "3"
		}
		if got := digString(env["PORTCULLIS_NATS_REPLICAS"], "value"); got != wantReplicas {
			t.Errorf("PORTCULLIS_NATS_REPLICAS = %q, want %s", got, wantReplicas)
		}
		var issuers []any
		if err := json.Unmarshal([]byte(digString(env["PORTCULLIS_ISSUERS"], "value")), &issuers); err != nil {
			t.Errorf("PORTCULLIS_ISSUERS is not a JSON list: %v", err)
		}
		if want := len(digList(c.values, "controlplane", "issuers")); len(issuers) != want {
			t.Errorf("PORTCULLIS_ISSUERS has %d issuers, want %d", len(issuers), want)
		}
	})
}

func TestChartGatewayWiring(t *testing.T) {
	forEachCase(t, func(t *testing.T, c chartCase, r rendered) {
		d, ok := r.find("Deployment", gatewayName)
		if !ok {
			t.Fatal("gateway Deployment not rendered")
		}
		container := firstContainer(podSpec(d))
		env := envByName(container)
		known := configEnvNames(t, gatewayPlane.configFile)
		for _, name := range slices.Sorted(maps.Keys(env)) {
			if !slices.Contains(known, name) {
				t.Errorf("gateway env %s is not read by dataplane/internal/config", name)
			}
		}
		for _, name := range gatewayPlane.required {
			if _, ok := env[name]; !ok {
				t.Errorf("gateway env lacks %s", name)
			}
		}
		if got := digString(env["PORTCULLIS_GATEWAY_ID"], "valueFrom", "fieldRef", "fieldPath"); got != "metadata.name" {
			t.Errorf("PORTCULLIS_GATEWAY_ID comes from %q, want the pod name (metadata.name)", got)
		}
		wantURL := "https://" + gatewayName + "." + releaseNamespace + ".svc"
		if u := digString(c.values, "gateway", "publicURL"); u != "" {
			wantURL = u
		} else if port := digString(c.values, "gateway", "service", "port"); port != "" && port != "443" {
			wantURL += ":" + port
		}
		if got := digString(env["PORTCULLIS_PUBLIC_URL"], "value"); got != wantURL {
			t.Errorf("PORTCULLIS_PUBLIC_URL = %q, want %q", got, wantURL)
		}
		// The bundle-signing public keys come from a Secret mounted read-only at the path
		// the gateway is told.
		keysFile := digString(env["PORTCULLIS_BUNDLE_KEYS_FILE"], "value")
		wantSecret := "pc-portcullis-bundle-keys"
		if s := digString(c.values, "gateway", "bundleKeys", "existingSecret"); s != "" {
			wantSecret = s
		}
		if !mountsSecretFile(podSpec(d), container, wantSecret, keysFile) {
			t.Errorf("gateway does not mount Secret %s at %s read-only", wantSecret, keysFile)
		}
	})
}

// mountsSecretFile reports whether file lies under a read-only mount of a volume backed
// by the named Secret.
func mountsSecretFile(spec, container obj, secret, file string) bool {
	volumes := map[string]string{}
	for _, v := range objs(digList(spec, "volumes")) {
		volumes[digString(v, "name")] = digString(v, "secret", "secretName")
	}
	for _, m := range objs(digList(container, "volumeMounts")) {
		dir := strings.TrimSuffix(digString(m, "mountPath"), "/") + "/"
		if volumes[digString(m, "name")] == secret && dig(m, "readOnly") == true && strings.HasPrefix(file, dir) {
			return true
		}
	}
	return false
}

func TestChartBundledNATSCluster(t *testing.T) {
	r := renderChart(t, obj{"nats": obj{"bundled": obj{"enabled": true}}})
	sts, ok := r.find("StatefulSet", natsName)
	if !ok {
		t.Fatal("NATS StatefulSet not rendered")
	}
	if got := digString(sts.obj, "spec", "replicas"); got != "3" {
		t.Errorf("NATS replicas = %s, want 3", got)
	}
	if got := digString(sts.obj, "spec", "serviceName"); got != natsName+"-headless" {
		t.Errorf("NATS serviceName = %q", got)
	}
	claims := objs(digList(sts.obj, "spec", "volumeClaimTemplates"))
	if len(claims) != 1 || digString(claims[0], "spec", "resources", "requests", "storage") == "" {
		t.Errorf("NATS has no persistent volume claim template: %v", claims)
	}
	headless, _ := r.find("Service", natsName+"-headless")
	if digString(headless.obj, "spec", "clusterIP") != "None" {
		t.Error("the NATS headless Service is not headless")
	}
	cm, _ := r.find("ConfigMap", natsName)
	conf := digString(cm.obj, "data", "nats.conf")
	if !strings.Contains(conf, "jetstream {") || !strings.Contains(conf, "store_dir: /data") {
		t.Errorf("nats.conf does not enable JetStream on /data:\n%s", conf)
	}
	var routes []string
	for _, line := range strings.Split(conf, "\n") {
		if strings.Contains(line, ":6222") && strings.Contains(line, "nats://") {
			routes = append(routes, strings.TrimSpace(line))
		}
	}
	sort.Strings(routes)
	want := []string{}
	for i := range 3 {
		want = append(want, fmt.Sprintf("nats://%s-%d.%s-headless.%s.svc:6222", natsName, i, natsName, releaseNamespace))
	}
	if !slices.Equal(routes, want) {
		t.Errorf("cluster routes = %v, want %v", routes, want)
	}
}

// withIssuers returns values with an agent-token issuer and an admin-token issuer added
// where the case sets none: without them both planes refuse to start, by design (the
// chart's NOTES warn about it), so they are needed to see the rest of the configuration
// verified.
func withIssuers(values obj) obj {
	out := deepCopy(values)
	for component, issuer := range map[string]obj{
		"controlplane": {"issuer": "https://idp.example.com/", "audiences": []any{"portcullis-admin"}},
		"gateway":      {"issuer": "https://idp.example.com/"},
	} {
		c, _ := out[component].(obj)
		if c == nil {
			c = obj{}
			out[component] = c
		}
		if len(digList(c, "issuers")) == 0 {
			c["issuers"] = []any{issuer}
		}
	}
	return out
}

// deepCopy copies values through JSON: Helm's rendering may have turned nested maps of
// a shared chartCase into chartutil.Values, which a type switch on obj would miss.
func deepCopy(v obj) obj {
	out := obj{}
	data, err := json.Marshal(v)
	if err == nil {
		err = json.Unmarshal(data, &out)
	}
	if err != nil {
		panic(fmt.Sprintf("deepCopy of chart values: %v", err)) // test-only: values are plain data
	}
	if out == nil { // a nil map marshals as null
		out = obj{}
	}
	return out
}

// podEnv resolves a container's environment as the kubelet would, with the dummy
// value of each variable read from a Secret and podName for the downward API. Any other
// source is reported: the test cannot know what it holds.
func podEnv(container obj, podName string) (map[string]string, []string) {
	env := map[string]string{}
	var problems []string
	for _, e := range objs(digList(container, "env")) {
		name := digString(e, "name")
		switch {
		case dig(e, "value") != nil:
			env[name] = digString(e, "value")
		case digString(e, "valueFrom", "secretKeyRef", "name") != "":
			v, ok := dummySecretValues[name]
			if !ok {
				problems = append(problems, name+" is read from a Secret but is not a known secret variable")
			}
			env[name] = v
		case digString(e, "valueFrom", "fieldRef", "fieldPath") == "metadata.name":
			env[name] = podName
		default:
			problems = append(problems, fmt.Sprintf("%s has an unexpected source: %v", name, e))
		}
	}
	return env, problems
}

// podMounts lists a container's mounts with the kind of the volume behind each:
// "secret:<name>", "emptyDir" or "other".
func podMounts(spec, container obj) []mount {
	kinds := map[string]string{}
	for _, v := range objs(digList(spec, "volumes")) {
		switch {
		case digString(v, "secret", "secretName") != "":
			kinds[digString(v, "name")] = "secret:" + digString(v, "secret", "secretName")
		case dig(v, "emptyDir") != nil:
			kinds[digString(v, "name")] = "emptyDir"
		default:
			kinds[digString(v, "name")] = "other"
		}
	}
	var out []mount
	for _, m := range objs(digList(container, "volumeMounts")) {
		out = append(out, mount{volume: kinds[digString(m, "name")], path: digString(m, "mountPath"), readOnly: dig(m, "readOnly") == true})
	}
	return out
}

// TestChartConfigurationsPassPlaneVerification is the end-to-end check of the chart
// against the binaries: every rendered Deployment's environment, with dummy secrets,
// goes through the plane's own FromEnv and Verify, and every file it names is on the
// right kind of volume.
func TestChartConfigurationsPassPlaneVerification(t *testing.T) {
	for _, c := range chartCases {
		t.Run(c.name, func(t *testing.T) {
			values := withIssuers(c.values)
			r := renderChart(t, values)
			for _, w := range []struct {
				name string
				p    plane
			}{{controlplaneName, controlplanePlane}, {gatewayName, gatewayPlane}} {
				d, ok := r.find("Deployment", w.name)
				if !ok {
					t.Fatalf("Deployment %s not rendered", w.name)
				}
				spec, container := podSpec(d), firstContainer(podSpec(d))
				env, problems := podEnv(container, w.name+"-7d9f8b6c5-x2x9z")
				problems = append(problems, envProblems(t, w.p, env)...)
				problems = append(problems, chartFileProblems(values, w.p.name, env, podMounts(spec, container))...)
				problems = append(problems, listenPortProblems(container, env["PORTCULLIS_LISTEN"])...)
				for _, p := range problems {
					t.Errorf("%s: %s", w.name, p)
				}
			}
		})
	}
}

// chartFileProblems: the certificates are the component's kubernetes.io/tls Secrets
// (default first, then the extra ones in order), mounted read-only; the snapshot file is
// on a writable emptyDir (the root filesystem is read-only).
func chartFileProblems(values obj, component string, env map[string]string, mounts []mount) []string {
	var problems []string
	wantSecrets := []string{fmt.Sprintf("%s-portcullis-%s-tls", releaseName, component)}
	if s := digString(values, component, "tls", "existingSecret"); s != "" {
		wantSecrets[0] = s
	}
	wantSecrets = append(wantSecrets, stringsOf(digList(values, component, "tls", "extraSecrets"))...)
	for _, name := range []string{"PORTCULLIS_TLS_CERT_FILE", "PORTCULLIS_TLS_KEY_FILE"} {
		files := splitFiles(env[name])
		if len(files) != len(wantSecrets) {
			problems = append(problems, fmt.Sprintf("%s lists %d files, want one per TLS Secret %v", name, len(files), wantSecrets))
			continue
		}
		for i, f := range files {
			m, ok := mountFor(mounts, f)
			if !ok || m.volume != "secret:"+wantSecrets[i] || !m.readOnly {
				problems = append(problems, fmt.Sprintf("%s[%d] %s is not on a read-only mount of Secret %s (%+v)", name, i, f, wantSecrets[i], m))
			}
		}
	}
	if f := env["PORTCULLIS_SNAPSHOT_FILE"]; f != "" {
		if m, ok := mountFor(mounts, f); !ok || m.volume != "emptyDir" || m.readOnly {
			problems = append(problems, fmt.Sprintf("snapshot file %s is not on a writable emptyDir (%+v)", f, m))
		}
	}
	return problems
}

// listenPortProblems: the address the plane listens on is the container port named
// https, which the probes, the Service and the NetworkPolicy use.
func listenPortProblems(container obj, listen string) []string {
	_, port, _ := strings.Cut(listen, ":")
	for _, p := range objs(digList(container, "ports")) {
		if digString(p, "name") == "https" {
			if got := digString(p, "containerPort"); got != port {
				return []string{fmt.Sprintf("container port https is %s but PORTCULLIS_LISTEN is %q", got, listen)}
			}
			return nil
		}
	}
	return []string{"no container port named https"}
}

// TestChartVerificationCanFail guards the test above through the same render path:
// the chart's defaults have no issuers, which each plane must refuse, and a rendered
// environment stripped of its TLS settings must be refused too.
func TestChartVerificationCanFail(t *testing.T) {
	r := renderChart(t, nil)
	for _, w := range []struct {
		name string
		p    plane
	}{{controlplaneName, controlplanePlane}, {gatewayName, gatewayPlane}} {
		d, _ := r.find("Deployment", w.name)
		env, _ := podEnv(firstContainer(podSpec(d)), "pod-0")
		if p := envProblems(t, w.p, env); !slices.ContainsFunc(p, func(s string) bool { return strings.Contains(s, "PORTCULLIS_ISSUERS is required") }) {
			t.Errorf("%s without issuers: problems %q do not mention PORTCULLIS_ISSUERS", w.name, p)
		}
	}
	r = renderChart(t, withIssuers(nil))
	for _, w := range []struct {
		name string
		p    plane
	}{{controlplaneName, controlplanePlane}, {gatewayName, gatewayPlane}} {
		d, _ := r.find("Deployment", w.name)
		env, _ := podEnv(firstContainer(podSpec(d)), "pod-0")
		if p := envProblems(t, w.p, env); len(p) > 0 {
			t.Fatalf("%s with issuers is refused: %v", w.name, p)
		}
		delete(env, "PORTCULLIS_TLS_CERT_FILE")
		delete(env, "PORTCULLIS_TLS_KEY_FILE")
		if p := envProblems(t, w.p, env); !slices.ContainsFunc(p, func(s string) bool { return strings.Contains(s, "PORTCULLIS_TLS_CERT_FILE") }) {
			t.Errorf("%s without TLS: problems %q do not mention PORTCULLIS_TLS_CERT_FILE", w.name, p)
		}
	}
	spec := obj{"volumes": []any{obj{"name": "tls", "secret": obj{"secretName": "pc-portcullis-gateway-tls"}}}}
	container := obj{"volumeMounts": []any{obj{"name": "tls", "mountPath": "/etc/portcullis/tls"}}} // not readOnly
	env := map[string]string{"PORTCULLIS_TLS_CERT_FILE": "/etc/portcullis/tls/tls.crt", "PORTCULLIS_TLS_KEY_FILE": "/etc/portcullis/tls/tls.key",
		"PORTCULLIS_SNAPSHOT_FILE": "/var/lib/portcullis/snapshot.json"}
	problems := chartFileProblems(nil, "gateway", env, podMounts(spec, container))
	for _, want := range []string{"PORTCULLIS_TLS_CERT_FILE[0]", "PORTCULLIS_TLS_KEY_FILE[0]", "snapshot file"} {
		if !slices.ContainsFunc(problems, func(s string) bool { return strings.Contains(s, want) }) {
			t.Errorf("problems %q do not mention %q", problems, want)
		}
	}
	if p := listenPortProblems(obj{"ports": []any{obj{"name": "https", "containerPort": 8443}}}, "0.0.0.0:8090"); len(p) == 0 {
		t.Error("a listen port that differs from the container port is not reported")
	}
}
