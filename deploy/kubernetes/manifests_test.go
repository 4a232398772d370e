package kubernetes

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	k8sjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/tapportal/portal/internal/app"
	"github.com/tapportal/portal/internal/config"
)

// manifests is the directory's content, decoded.
type manifests struct {
	deployment    *appsv1.Deployment
	service       *corev1.Service
	configMap     *corev1.ConfigMap
	secrets       map[string]*corev1.Secret
	pdb           *policyv1.PodDisruptionBudget
	kustomization kustomization
	// files maps each manifest file to its raw text.
	files map[string]string
}

// kustomization is the part of kustomize's Kustomization type these
// manifests use. It is decoded strictly too: a field the struct lacks
// fails the test, so extend it when the kustomization grows.
type kustomization struct {
	APIVersion string           `json:"apiVersion"`
	Kind       string           `json:"kind"`
	Namespace  string           `json:"namespace"`
	Resources  []string         `json:"resources"`
	Images     []kustomizeImage `json:"images"`
}

// kustomizeImage sets the registry and tag of an image the manifests name.
type kustomizeImage struct {
	Name    string `json:"name"`
	NewName string `json:"newName"`
	NewTag  string `json:"newTag"`
}

// decodeStrict decodes one YAML document into obj as the API server's
// strict field validation would. sigs.k8s.io/yaml turns the YAML into
// JSON (refusing duplicate keys); sigs.k8s.io/json, Kubernetes' own
// decoder, then refuses unknown fields and, unlike encoding/json, field
// names in the wrong case, so "Replicas:" fails as "replica:" does.
func decodeStrict(doc []byte, obj any) error {
	js, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return err
	}
	strictErrs, err := k8sjson.UnmarshalStrict(js, obj, k8sjson.DisallowDuplicateFields, k8sjson.DisallowUnknownFields)
	if err != nil {
		return err
	}
	return errors.Join(strictErrs...)
}

// documents splits a multi-document YAML file on its "---" lines and
// drops documents that hold only comments. The manifests are plain
// enough that a line-based split is exact; it keeps the test free of a
// YAML stream decoder.
func documents(data []byte) [][]byte {
	var docs [][]byte
	var cur bytes.Buffer
	flush := func() {
		js, err := yaml.YAMLToJSON(cur.Bytes())
		if err != nil || string(js) != "null" {
			docs = append(docs, bytes.Clone(cur.Bytes()))
		}
		cur.Reset()
	}
	for line := range bytes.Lines(data) {
		if t := bytes.TrimRight(line, " \t\r\n"); string(t) == "---" {
			flush()
			continue
		}
		cur.Write(line)
	}
	flush()
	return docs
}

// load reads and decodes every manifest in the directory.
func load(t *testing.T) *manifests {
	t.Helper()
	m := &manifests{secrets: map[string]*corev1.Secret{}, files: map[string]string{}}
	names, err := filepath.Glob("*.yaml")
	if err != nil || len(names) == 0 {
		t.Fatalf("no manifests: %v", err)
	}
	for _, name := range names {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		m.files[name] = string(data)
		if name == "kustomization.yaml" {
			if err := decodeStrict(data, &m.kustomization); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			continue
		}
		for i, doc := range documents(data) {
			where := fmt.Sprintf("%s, document %d", name, i+1)
			var head struct {
				APIVersion string `json:"apiVersion"`
				Kind       string `json:"kind"`
			}
			if err := yaml.Unmarshal(doc, &head); err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			var obj any
			switch head.APIVersion + " " + head.Kind {
			case "apps/v1 Deployment":
				obj = once(t, where, &m.deployment)
			case "v1 Service":
				obj = once(t, where, &m.service)
			case "v1 ConfigMap":
				obj = once(t, where, &m.configMap)
			case "policy/v1 PodDisruptionBudget":
				obj = once(t, where, &m.pdb)
			case "v1 Secret":
				obj = &corev1.Secret{}
			default:
				t.Fatalf("%s: unexpected %s %s", where, head.APIVersion, head.Kind)
			}
			if err := decodeStrict(doc, obj); err != nil {
				t.Fatalf("%s does not decode strictly as %s: %v", where, head.Kind, err)
			}
			if s, ok := obj.(*corev1.Secret); ok {
				if _, dup := m.secrets[s.Name]; dup {
					t.Fatalf("%s: a second Secret %s", where, s.Name)
				}
				m.secrets[s.Name] = s
			}
		}
	}
	if m.deployment == nil || m.service == nil || m.configMap == nil || m.pdb == nil || len(m.secrets) == 0 {
		t.Fatal("the manifests lack a Deployment, Service, ConfigMap, PodDisruptionBudget or Secret")
	}
	return m
}

// once allocates *p for the only document of its kind.
func once[T any](t *testing.T, where string, p **T) *T {
	t.Helper()
	if *p != nil {
		t.Fatalf("%s: a second %T", where, *p)
	}
	*p = new(T)
	return *p
}

func TestManifestDecoderIsStrict(t *testing.T) {
	for _, tt := range []struct{ name, doc string }{
		{"misspelt field", "apiVersion: apps/v1\nkind: Deployment\nspec:\n  replica: 2\n"},
		{"wrong case", "apiVersion: apps/v1\nkind: Deployment\nspec:\n  Replicas: 2\n"},
		{"duplicate key", "apiVersion: apps/v1\nkind: Deployment\nspec:\n  replicas: 2\n  replicas: 3\n"},
		{"wrong type", "apiVersion: apps/v1\nkind: Deployment\nspec:\n  replicas: two\n"},
	} {
		if err := decodeStrict([]byte(tt.doc), &appsv1.Deployment{}); err == nil {
			t.Errorf("decodeStrict(%s) = nil, want an error", tt.name)
		}
	}
	var d appsv1.Deployment
	if err := decodeStrict([]byte("apiVersion: apps/v1\nkind: Deployment\nspec:\n  replicas: 2\n"), &d); err != nil || *d.Spec.Replicas != 2 {
		t.Errorf("decodeStrict(valid) = %v", err)
	}
}

func TestManifestKustomizationListsResources(t *testing.T) {
	m := load(t)
	k := m.kustomization
	if k.APIVersion != "kustomize.config.k8s.io/v1beta1" || k.Kind != "Kustomization" {
		t.Errorf("kustomization is %s %s, want kustomize.config.k8s.io/v1beta1 Kustomization", k.APIVersion, k.Kind)
	}
	for _, r := range k.Resources {
		if _, ok := m.files[r]; !ok {
			t.Errorf("kustomization lists %s, which is not in the directory", r)
		}
	}
	for name := range m.files {
		listed := slices.Contains(k.Resources, name)
		switch name {
		case "kustomization.yaml":
		case "secret.yaml":
			// A template: applying it would overwrite the real Secrets.
			if listed {
				t.Error("kustomization lists secret.yaml, whose placeholders would replace the real Secrets")
			}
		default:
			if !listed {
				t.Errorf("kustomization does not list %s", name)
			}
		}
	}
	image := container(t, m).Image
	if !slices.ContainsFunc(k.Images, func(i kustomizeImage) bool {
		return i.Name == image && i.NewName != "" && i.NewTag != ""
	}) {
		t.Errorf("kustomization sets no name and tag for the image %q", image)
	}
}

// show prints an optional field for a failure message.
func show[T any](p *T) string {
	if p == nil {
		return "unset"
	}
	return fmt.Sprint(*p)
}

// container returns the portal's container, the Deployment's only one.
func container(t *testing.T, m *manifests) *corev1.Container {
	t.Helper()
	cs := m.deployment.Spec.Template.Spec.Containers
	if len(cs) != 1 {
		t.Fatalf("the Deployment has %d containers, want 1", len(cs))
	}
	return &cs[0]
}

// containerPort resolves a named or numbered port of c.
func containerPort(c *corev1.Container, p intstr.IntOrString) int32 {
	if p.Type == intstr.Int {
		return p.IntVal
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return cp.ContainerPort
		}
	}
	return 0
}

// selects reports whether every label the selector asks for is on the
// pod template: a selector that also matched other pods would be as
// wrong, but one that matches none of the portal's is the likely slip.
func selects(selector, podLabels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if podLabels[k] != v {
			return false
		}
	}
	return true
}

func TestManifestDeployment(t *testing.T) {
	m := load(t)
	d := m.deployment
	spec := d.Spec.Template.Spec
	c := container(t, m)
	podLabels := d.Spec.Template.Labels

	if d.Spec.Replicas == nil || *d.Spec.Replicas != 2 {
		t.Errorf("replicas = %s, want 2", show(d.Spec.Replicas))
	}
	if s := d.Spec.Strategy; s.Type != appsv1.RollingUpdateDeploymentStrategyType || s.RollingUpdate == nil ||
		s.RollingUpdate.MaxUnavailable == nil || s.RollingUpdate.MaxUnavailable.IntValue() != 0 {
		t.Errorf("strategy = %+v, want a rolling update with maxUnavailable 0", s)
	}
	if d.Spec.Selector == nil || len(d.Spec.Selector.MatchExpressions) > 0 || !selects(d.Spec.Selector.MatchLabels, podLabels) {
		t.Errorf("the Deployment's selector %v does not select its pod labels %v", d.Spec.Selector, podLabels)
	}
	if !slices.Equal(c.Args, []string{"serve"}) || len(c.Command) > 0 {
		t.Errorf("command %v args %v, want the image's entrypoint with args [serve]", c.Command, c.Args)
	}

	probes := []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{
		{"readinessProbe", c.ReadinessProbe, "/readyz"},
		{"livenessProbe", c.LivenessProbe, "/healthz"},
		{"startupProbe", c.StartupProbe, "/healthz"},
	}
	for _, p := range probes {
		if p.probe == nil || p.probe.HTTPGet == nil {
			t.Errorf("%s is missing or not an HTTP GET", p.name)
			continue
		}
		if got := p.probe.HTTPGet.Path; got != p.path {
			t.Errorf("%s path = %q, want %q", p.name, got, p.path)
		}
		if got := containerPort(c, p.probe.HTTPGet.Port); got != 8080 {
			t.Errorf("%s port %s = %d, want 8080", p.name, p.probe.HTTPGet.Port.String(), got)
		}
	}
	// /readyz bounds its checks at 5 s; a shorter probe timeout would
	// report a slow dependency as a probe failure with no detail.
	if c.ReadinessProbe != nil && c.ReadinessProbe.TimeoutSeconds <= 5 {
		t.Errorf("readinessProbe timeoutSeconds = %d, want more than /readyz's 5 s", c.ReadinessProbe.TimeoutSeconds)
	}

	// The kubelet must not kill a pod still inside its graceful shutdown.
	var preStop time.Duration
	if c.Lifecycle != nil && c.Lifecycle.PreStop != nil && c.Lifecycle.PreStop.Sleep != nil {
		preStop = time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
	}
	if g := spec.TerminationGracePeriodSeconds; g == nil || time.Duration(*g)*time.Second <= preStop+app.ShutdownTimeout {
		t.Errorf("terminationGracePeriodSeconds = %s, want more than preStop %s + shutdown bound %s", show(g), preStop, app.ShutdownTimeout)
	}

	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, okReq := c.Resources.Requests[name]
		lim, okLim := c.Resources.Limits[name]
		if !okReq || !okLim || req.Cmp(lim) > 0 {
			t.Errorf("resources for %s: request %v, limit %v; want both, request <= limit", name, req.String(), lim.String())
		}
	}

	checkSecurity(t, spec.SecurityContext, c.SecurityContext)
	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		t.Error("automountServiceAccountToken is not false: the portal never calls the Kubernetes API")
	}

	// Metrics: a named port, and annotations that point at it.
	metricsPort := containerPort(c, intstr.FromString("metrics"))
	if metricsPort == 0 {
		t.Error("no container port named metrics")
	}
	ann := d.Spec.Template.Annotations
	if ann["prometheus.io/scrape"] != "true" || ann["prometheus.io/path"] != "/metrics" || ann["prometheus.io/port"] != strconv.Itoa(int(metricsPort)) {
		t.Errorf("prometheus annotations %v do not point at the metrics port %d", ann, metricsPort)
	}

	spread := false
	for _, tsc := range spec.TopologySpreadConstraints {
		if tsc.LabelSelector != nil && selects(tsc.LabelSelector.MatchLabels, podLabels) {
			spread = true
		}
	}
	if a := spec.Affinity; a != nil && a.PodAntiAffinity != nil {
		spread = true
	}
	if !spread {
		t.Error("no topologySpreadConstraints selecting the portal's pods, and no pod anti-affinity")
	}
}

// checkSecurity checks the pod's and the container's security contexts;
// a container setting overrides the pod's.
func checkSecurity(t *testing.T, pod *corev1.PodSecurityContext, ctr *corev1.SecurityContext) {
	t.Helper()
	if pod == nil {
		pod = &corev1.PodSecurityContext{}
	}
	if ctr == nil {
		t.Fatal("the container has no securityContext")
	}
	pick := func(c, p *bool) bool {
		if c != nil {
			return *c
		}
		return p != nil && *p
	}
	if !pick(ctr.RunAsNonRoot, pod.RunAsNonRoot) {
		t.Error("runAsNonRoot is not true")
	}
	uid := pod.RunAsUser
	if ctr.RunAsUser != nil {
		uid = ctr.RunAsUser
	}
	if uid == nil || *uid != 65532 {
		t.Errorf("runAsUser = %s, want 65532 (the image's nonroot user)", show(uid))
	}
	if ctr.ReadOnlyRootFilesystem == nil || !*ctr.ReadOnlyRootFilesystem {
		t.Error("readOnlyRootFilesystem is not true")
	}
	if ctr.AllowPrivilegeEscalation == nil || *ctr.AllowPrivilegeEscalation {
		t.Error("allowPrivilegeEscalation is not false")
	}
	if ctr.Capabilities == nil || !slices.Contains(ctr.Capabilities.Drop, "ALL") || len(ctr.Capabilities.Add) > 0 {
		t.Errorf("capabilities = %+v, want drop ALL and add none", ctr.Capabilities)
	}
	seccomp := pod.SeccompProfile
	if ctr.SeccompProfile != nil {
		seccomp = ctr.SeccompProfile
	}
	if seccomp == nil || seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("seccompProfile = %+v, want RuntimeDefault", seccomp)
	}
}

func TestManifestService(t *testing.T) {
	m := load(t)
	s := m.service
	if s.Spec.Type != corev1.ServiceTypeClusterIP {
		t.Errorf("Service type = %q, want ClusterIP", s.Spec.Type)
	}
	if !selects(s.Spec.Selector, m.deployment.Spec.Template.Labels) {
		t.Errorf("Service selector %v does not select the pod labels %v", s.Spec.Selector, m.deployment.Spec.Template.Labels)
	}
	c := container(t, m)
	found := false
	for _, p := range s.Spec.Ports {
		if p.Port == 80 && containerPort(c, p.TargetPort) == 8080 {
			found = true
		}
		if containerPort(c, p.TargetPort) == containerPort(c, intstr.FromString("metrics")) {
			t.Error("the Service exposes the metrics port")
		}
	}
	if !found {
		t.Errorf("Service ports %+v: want port 80 to the container's 8080", s.Spec.Ports)
	}
}

func TestManifestPodDisruptionBudget(t *testing.T) {
	m := load(t)
	p := m.pdb
	if p.Spec.MinAvailable == nil || *p.Spec.MinAvailable != intstr.FromInt32(1) || p.Spec.MaxUnavailable != nil {
		t.Errorf("PDB minAvailable = %v, maxUnavailable = %v; want minAvailable 1 only", p.Spec.MinAvailable, p.Spec.MaxUnavailable)
	}
	if p.Spec.Selector == nil || len(p.Spec.Selector.MatchExpressions) > 0 || !selects(p.Spec.Selector.MatchLabels, m.deployment.Spec.Template.Labels) {
		t.Errorf("PDB selector %v does not select the pod labels %v", p.Spec.Selector, m.deployment.Spec.Template.Labels)
	}
	if r := m.deployment.Spec.Replicas; r == nil || *r <= 1 {
		t.Error("with one replica, minAvailable 1 would block every node drain")
	}
}

// goRuntimeVars are the only variables outside config.Vars the manifests
// may set: the Go runtime's own.
var goRuntimeVars = []string{"GOMEMLIMIT"}

// secretSettings must come from the Secret, never from the ConfigMap or a
// literal in the Deployment.
var secretSettings = []string{"PORTAL_SESSION_KEYS", "PORTAL_AUDIT_KEY", "PORTAL_OIDC_CLIENT_SECRET", "PORTAL_DATABASE_URL", "PORTAL_GRAPH_CERT_PASSWORD"}

func isSetting(name string) bool {
	return slices.ContainsFunc(config.Vars, func(v config.Var) bool { return v.Name == name })
}

// environment returns the container's environment as the kubelet builds
// it: envFrom sources in order, then env, later ones winning.
func environment(t *testing.T, m *manifests) map[string]string {
	t.Helper()
	c := container(t, m)
	env := map[string]string{}
	for _, src := range c.EnvFrom {
		switch {
		case src.ConfigMapRef != nil:
			if src.ConfigMapRef.Name != m.configMap.Name {
				t.Fatalf("envFrom names ConfigMap %q; the manifests have %q", src.ConfigMapRef.Name, m.configMap.Name)
			}
			for k, v := range m.configMap.Data {
				env[src.Prefix+k] = v
			}
		case src.SecretRef != nil:
			s, ok := m.secrets[src.SecretRef.Name]
			if !ok {
				t.Fatalf("envFrom names Secret %q, which secret.yaml does not describe", src.SecretRef.Name)
			}
			for k, v := range s.StringData {
				env[src.Prefix+k] = v
			}
			for k, v := range s.Data {
				env[src.Prefix+k] = string(v)
			}
		}
	}
	for _, e := range c.Env {
		if e.ValueFrom != nil {
			t.Fatalf("env %s uses valueFrom, which this test does not resolve", e.Name)
		}
		env[e.Name] = e.Value
	}
	return env
}

func TestManifestSettings(t *testing.T) {
	m := load(t)
	env := environment(t, m)

	// Every name set is a real setting.
	for name := range env {
		if !isSetting(name) && !slices.Contains(goRuntimeVars, name) {
			t.Errorf("the manifests set %s, which is not a portal setting (config.Vars)", name)
		}
	}
	// And every PORTAL_ name written anywhere, comments included.
	word := regexp.MustCompile(`\bPORTAL_[A-Z0-9_]+\b`)
	for file, text := range m.files {
		for _, name := range word.FindAllString(text, -1) {
			if !isSetting(name) {
				t.Errorf("%s names %s, which is not a portal setting", file, name)
			}
		}
	}
	for _, v := range config.Vars {
		if v.Required && env[v.Name] == "" {
			t.Errorf("required setting %s is not provided", v.Name)
		}
	}
	for _, name := range secretSettings {
		if _, ok := m.configMap.Data[name]; ok {
			t.Errorf("%s is in the ConfigMap; it belongs in the Secret", name)
		}
		if slices.ContainsFunc(container(t, m).Env, func(e corev1.EnvVar) bool { return e.Name == name }) {
			t.Errorf("%s is a literal in the Deployment; it belongs in the Secret", name)
		}
	}

	// The values parse as `portal serve` would parse them.
	cfg, err := config.Load(func(k string) string { return env[k] }, false)
	if err != nil {
		t.Fatalf("config.Load(the manifests' environment) = %v", err)
	}
	if cfg.PublicURL.Scheme != "https" {
		t.Errorf("PORTAL_PUBLIC_URL = %s, want https (Secure cookies, HSTS)", cfg.PublicURL)
	}

	// Two replicas share PostgreSQL; SQLite would give each pod its own
	// history and rate limit.
	db, err := url.Parse(cfg.DatabaseURL)
	if err != nil || (db.Scheme != "postgres" && db.Scheme != "postgresql") {
		t.Fatalf("PORTAL_DATABASE_URL is not a postgres:// URL: with 2 replicas SQLite would be per pod")
	}
	if _, ok := db.User.Password(); !ok {
		t.Error("PORTAL_DATABASE_URL has no password")
	}
	if got := db.Query().Get("sslmode"); got != "verify-full" {
		t.Errorf("PORTAL_DATABASE_URL sslmode = %q, want verify-full", got)
	}

	c := container(t, m)
	if port := portOf(t, "PORTAL_ADDR", cfg.Addr); port != containerPort(c, intstr.FromString("http")) {
		t.Errorf("PORTAL_ADDR port %d is not the container port named http", port)
	}
	if port := portOf(t, "PORTAL_METRICS_ADDR", cfg.MetricsAddr); port != containerPort(c, intstr.FromString("metrics")) {
		t.Errorf("PORTAL_METRICS_ADDR port %d is not the container port named metrics", port)
	}

	if limit, ok := c.Resources.Limits[corev1.ResourceMemory]; ok {
		if soft := env["GOMEMLIMIT"]; soft != "" {
			q, err := resource.ParseQuantity(strings.TrimSuffix(soft, "B"))
			if err != nil || q.Cmp(limit) >= 0 {
				t.Errorf("GOMEMLIMIT %s is not below the memory limit %s", soft, limit.String())
			}
		}
	}
}

func portOf(t *testing.T, name, addr string) int32 {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	n, perr := strconv.Atoi(p)
	if err != nil || perr != nil {
		t.Fatalf("%s = %q: not HOST:PORT", name, addr)
	}
	return int32(n)
}

func TestManifestGraphCertificate(t *testing.T) {
	m := load(t)
	c := container(t, m)
	certFile := environment(t, m)["PORTAL_GRAPH_CERT_FILE"]
	dir, file := path.Split(certFile)
	var mount *corev1.VolumeMount
	for i, vm := range c.VolumeMounts {
		if strings.TrimSuffix(vm.MountPath, "/")+"/" == dir {
			mount = &c.VolumeMounts[i]
		}
	}
	if mount == nil {
		t.Fatalf("PORTAL_GRAPH_CERT_FILE %s is under no volume mount", certFile)
	}
	if !mount.ReadOnly {
		t.Errorf("the certificate's mount %s is not read-only", mount.MountPath)
	}
	var vol *corev1.Volume
	for i, v := range m.deployment.Spec.Template.Spec.Volumes {
		if v.Name == mount.Name {
			vol = &m.deployment.Spec.Template.Spec.Volumes[i]
		}
	}
	if vol == nil || vol.Secret == nil {
		t.Fatalf("the certificate's volume %q is not a Secret volume", mount.Name)
	}
	if vol.Secret.Optional != nil && *vol.Secret.Optional {
		t.Error("the certificate's Secret is optional: the portal cannot start without it")
	}
	if mode := vol.Secret.DefaultMode; mode == nil {
		t.Error("the certificate's defaultMode is unset (0644): want no access for others")
	} else if *mode&0o007 != 0 {
		t.Errorf("the certificate's defaultMode = %#o, want no access for others", *mode)
	}
	secret, ok := m.secrets[vol.Secret.SecretName]
	if !ok {
		t.Fatalf("the certificate's Secret %q is not described in secret.yaml", vol.Secret.SecretName)
	}
	key := file
	for _, it := range vol.Secret.Items {
		if it.Path == file {
			key = it.Key
		}
	}
	if _, ok := secret.StringData[key]; !ok {
		t.Errorf("Secret %s has no key %q for %s", secret.Name, key, certFile)
	}
}
