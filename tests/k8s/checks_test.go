package k8s

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// check is one rule the rendered manifests must follow.
type check struct {
	name string
	run  func(r *rendered) []string
	// only, when set, says whether the check applies to an overlay, and skip why not.
	only func(o overlay) bool
	skip string
}

var checks = []check{
	{name: "images-pinned", run: checkImages},
	{name: "security-context", run: checkSecurity},
	{name: "volumes", run: checkVolumes},
	{name: "resources", run: checkResources},
	{name: "services-select-pods", run: checkServices},
	{name: "probes", run: checkProbes},
	{name: "metrics-port", run: checkMetrics},
	{name: "graceful-shutdown", run: checkGrace},
	{name: "hpa-targets", run: checkHPAs},
	{name: "pdb-targets", run: checkPDBs},
	{name: "env-read-by-service", run: checkEnvRead},
	{name: "env-required-set", run: checkEnvRequired},
	{name: "config-secret-refs", run: checkRefs},
	{name: "config-secret-used", run: checkUsed},
	{name: "migration-job", run: checkJob},
	{name: "ingress", run: checkIngress},
	{name: "namespace", run: checkNamespace, only: func(o overlay) bool { return o.name != "base" },
		skip: "the base sets no namespace: the overlays do"},
	{name: "netpol-default-deny-dns", run: checkDefaultDeny},
	{name: "netpol-outside-only-gateway", run: checkOutside},
	{name: "netpol-only-what-it-calls", run: checkOnlyNeeds},
	{name: "netpol-reaches-what-it-calls", run: checkReachesNeeds, only: func(o overlay) bool { return o.complete },
		skip: "the base has no NATS, PostgreSQL or Redis to reach: the overlays do"},
	{name: "urls-name-services", run: checkURLs, only: func(o overlay) bool { return o.complete },
		skip: "the base has no NATS Service: the overlays do"},
	{name: "nats", run: checkNATS, only: func(o overlay) bool { return o.complete },
		skip: "the base runs no NATS: the overlays do"},
	{name: "prod", run: checkProd, only: func(o overlay) bool { return o.prod }, skip: "production rules"},
}

// pinned: a version with at least major.minor.patch, or a digest.
var pinned = regexp.MustCompile(`^v?[0-9]+\.[0-9]+\.[0-9]+([-+.][0-9A-Za-z.-]+)?$`)

// pinnedTwoParts are images whose releases have two numbers: PostgreSQL's
// since 10 (15.13 is one release; 15 is not).
var pinnedTwoParts = map[string]*regexp.Regexp{
	"postgres": regexp.MustCompile(`^[0-9]+\.[0-9]+(-[a-z0-9.-]+)?$`),
}

func checkImages(r *rendered) []string {
	var problems []string
	release := map[string][]string{}
	for _, w := range r.workloads() {
		for _, c := range containers(w.spec) {
			ref := parseImage(c.Image)
			switch {
			case ref.digest != "":
			case ref.tag == "":
				problems = append(problems, fmt.Sprintf("%s container %s: image %q has no tag: pin a version (kustomize images: for ours)", w.ref, c.Name, c.Image))
			case pinnedTwoParts[ref.repo] != nil && pinnedTwoParts[ref.repo].MatchString(ref.tag):
			case ref.tag == "latest" || !pinned.MatchString(ref.tag):
				problems = append(problems, fmt.Sprintf("%s container %s: image %q is not pinned to an exact version (x.y.z)", w.ref, c.Name, c.Image))
			}
			prog, ok := ours(c.Image)
			if !ok {
				continue
			}
			release[ref.tag] = append(release[ref.tag], prog)
			want := w.component
			if w.kind == "Job" {
				want = "migrate"
			}
			if prog != want {
				problems = append(problems, fmt.Sprintf("%s container %s runs image %s, not %s%s", w.ref, c.Name, c.Image, ourImage, want))
			}
		}
	}
	if len(release) > 1 {
		problems = append(problems, fmt.Sprintf("our images are of different releases: %v (one kustomize images: tag for all)", release))
	}
	return problems
}

func checkSecurity(r *rendered) []string {
	var problems []string
	for _, w := range r.workloads() {
		bad := func(format string, args ...any) {
			problems = append(problems, w.ref+": "+fmt.Sprintf(format, args...))
		}
		p := w.spec
		if p.HostNetwork || p.HostPID || p.HostIPC {
			bad("shares the node's network, PID or IPC namespace")
		}
		if p.AutomountServiceAccountToken == nil || *p.AutomountServiceAccountToken {
			bad("mounts a service account token: set automountServiceAccountToken: false (nothing here calls the Kubernetes API)")
		}
		psc := p.SecurityContext
		if psc == nil {
			psc = &corev1.PodSecurityContext{}
		}
		for _, c := range containers(p) {
			sc := c.SecurityContext
			if sc == nil {
				bad("container %s has no securityContext", c.Name)
				continue
			}
			if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
				bad("container %s: allowPrivilegeEscalation must be false", c.Name)
			}
			if sc.Privileged != nil && *sc.Privileged {
				bad("container %s is privileged", c.Name)
			}
			if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
				bad("container %s: readOnlyRootFilesystem must be true (give the paths it writes an emptyDir)", c.Name)
			}
			nonRoot := (sc.RunAsNonRoot != nil && *sc.RunAsNonRoot) || (sc.RunAsNonRoot == nil && psc.RunAsNonRoot != nil && *psc.RunAsNonRoot)
			if !nonRoot {
				bad("container %s: runAsNonRoot must be true", c.Name)
			}
			if (sc.RunAsUser != nil && *sc.RunAsUser == 0) || (sc.RunAsUser == nil && psc.RunAsUser != nil && *psc.RunAsUser == 0) {
				bad("container %s runs as user 0", c.Name)
			}
			if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
				bad("container %s: capabilities must drop ALL", c.Name)
			} else if len(sc.Capabilities.Add) > 0 {
				bad("container %s adds capabilities %v", c.Name, sc.Capabilities.Add)
			}
			seccomp := sc.SeccompProfile
			if seccomp == nil {
				seccomp = psc.SeccompProfile
			}
			if seccomp == nil || seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault {
				bad("container %s: seccompProfile must be RuntimeDefault", c.Name)
			}
			if !mountsEmptyDir(p, c, "/tmp") {
				bad("container %s: the root filesystem is read-only, so /tmp needs an emptyDir (Go's os.TempDir, bash here-documents)", c.Name)
			}
		}
	}
	return problems
}

// mountsEmptyDir reports whether a container mounts an emptyDir at path.
func mountsEmptyDir(p *corev1.PodSpec, c *corev1.Container, path string) bool {
	for _, m := range c.VolumeMounts {
		if m.MountPath != path || m.ReadOnly {
			continue
		}
		for _, v := range p.Volumes {
			if v.Name == m.Name && v.EmptyDir != nil {
				return true
			}
		}
	}
	return false
}

func checkVolumes(r *rendered) []string {
	var problems []string
	for _, w := range r.workloads() {
		bad := func(format string, args ...any) {
			problems = append(problems, w.ref+": "+fmt.Sprintf(format, args...))
		}
		vols := map[string]corev1.Volume{}
		for _, v := range w.spec.Volumes {
			vols[v.Name] = v
		}
		for _, c := range w.claims {
			vols[c.Name] = corev1.Volume{Name: c.Name}
		}
		used := map[string]bool{}
		for _, c := range containers(w.spec) {
			for _, m := range c.VolumeMounts {
				used[m.Name] = true
				if _, ok := vols[m.Name]; !ok {
					bad("container %s mounts volume %q, which the pod does not declare", c.Name, m.Name)
				}
			}
		}
		for name, v := range vols {
			if !used[name] {
				bad("volume %q is mounted by no container", name)
			}
			if v.PersistentVolumeClaim == nil {
				continue
			}
			pvc := find[corev1.PersistentVolumeClaim](r, v.PersistentVolumeClaim.ClaimName)
			if pvc == nil {
				bad("volume %q claims %q, which is not in the output", name, v.PersistentVolumeClaim.ClaimName)
				continue
			}
			if w.deploy != nil && slices.Contains(pvc.Spec.AccessModes, corev1.ReadWriteOnce) {
				if w.deploy.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
					bad("mounts the ReadWriteOnce claim %s: use strategy Recreate, or a rollout waits for the old pod's volume forever", pvc.Name)
				}
				if r.count(w) > 1 {
					bad("runs %d pods on the ReadWriteOnce claim %s", r.count(w), pvc.Name)
				}
			}
		}
	}
	return problems
}

func checkResources(r *rendered) []string {
	var problems []string
	for _, w := range r.workloads() {
		for _, c := range containers(w.spec) {
			for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				req, hasReq := c.Resources.Requests[name]
				lim, hasLim := c.Resources.Limits[name]
				switch {
				case !hasReq:
					problems = append(problems, fmt.Sprintf("%s container %s requests no %s", w.ref, c.Name, name))
				case !hasLim:
					problems = append(problems, fmt.Sprintf("%s container %s has no %s limit", w.ref, c.Name, name))
				case req.Cmp(lim) > 0:
					problems = append(problems, fmt.Sprintf("%s container %s requests more %s (%s) than its limit (%s)", w.ref, c.Name, name, req.String(), lim.String()))
				}
			}
		}
	}
	return problems
}

func checkServices(r *rendered) []string {
	var problems []string
	for _, s := range all[corev1.Service](r) {
		if len(s.Spec.Selector) == 0 {
			problems = append(problems, fmt.Sprintf("Service/%s selects no pods (no selector)", s.Name))
			continue
		}
		ws := r.matching(&metav1.LabelSelector{MatchLabels: s.Spec.Selector})
		if len(ws) == 0 {
			problems = append(problems, fmt.Sprintf("Service/%s: selector %v matches no pod template", s.Name, s.Spec.Selector))
		}
		for _, p := range s.Spec.Ports {
			target := p.TargetPort
			if target.Type == intstr.Int && target.IntVal == 0 {
				target = intstr.FromInt32(p.Port)
			}
			for _, w := range ws {
				cp, ok := podPort(w.spec, target)
				proto := p.Protocol
				if proto == "" {
					proto = corev1.ProtocolTCP
				}
				cpProto := cp.Protocol
				if cpProto == "" {
					cpProto = corev1.ProtocolTCP
				}
				switch {
				case !ok:
					problems = append(problems, fmt.Sprintf("Service/%s port %s: targetPort %s is no container port of %s", s.Name, p.Name, target.String(), w.ref))
				case cpProto != proto:
					problems = append(problems, fmt.Sprintf("Service/%s port %s is %s, container port %s of %s is %s", s.Name, p.Name, proto, cp.Name, w.ref, cpProto))
				}
			}
		}
	}
	for _, w := range r.workloads() {
		if w.selector != nil && w.kind != "Job" && !selects(w.selector, w.labels) {
			problems = append(problems, fmt.Sprintf("%s: selector %v does not match its own template's labels %v", w.ref, w.selector.MatchLabels, w.labels))
		}
		if w.sts != nil {
			if hs := find[corev1.Service](r, w.sts.Spec.ServiceName); hs == nil || hs.Spec.ClusterIP != corev1.ClusterIPNone {
				problems = append(problems, fmt.Sprintf("%s: serviceName %q is no headless Service in the output", w.ref, w.sts.Spec.ServiceName))
			}
		}
	}
	return problems
}

// probeChecks says what each probe of our services must ask: the service
// serves /healthz (alive) and /readyz (ready: its critical dependencies answer).
var probePaths = map[string]string{
	"readiness": "/readyz",
	// Not /readyz: a dependency's outage would restart every pod and make it worse.
	"liveness": "/healthz",
	"startup":  "/healthz",
}

func checkProbes(r *rendered) []string {
	var problems []string
	for _, w := range r.workloads() {
		for _, c := range containers(w.spec) {
			bad := func(format string, args ...any) {
				problems = append(problems, fmt.Sprintf("%s container %s: ", w.ref, c.Name)+fmt.Sprintf(format, args...))
			}
			probes := map[string]*corev1.Probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe, "startup": c.StartupProbe}
			for kind, p := range probes {
				if p == nil {
					continue
				}
				var port *intstr.IntOrString
				switch {
				case p.HTTPGet != nil:
					port = &p.HTTPGet.Port
				case p.TCPSocket != nil:
					port = &p.TCPSocket.Port
				case p.GRPC != nil:
					port = new(intstr.FromInt32(p.GRPC.Port))
				}
				if port != nil {
					if _, ok := containerPort(c, *port); !ok {
						bad("%s probe port %s is not a port of the container", kind, port.String())
					}
				}
			}
			prog, spec, err := r.reads(c)
			if err != nil {
				bad("%v", err)
				continue
			}
			if prog == "" || prog == "migrate" {
				continue
			}
			env := r.containerEnv(c)
			listen, err := listenPort(prog, spec, env)
			if err != nil {
				bad("%v", err)
				continue
			}
			if _, ok := containerPort(c, intstr.FromInt32(listen)); !ok {
				bad("%s listens on %d, which is not a declared container port", prog, listen)
			}
			for _, kind := range []string{"startup", "readiness", "liveness"} {
				p := probes[kind]
				switch {
				case p == nil:
					bad("no %s probe", kind)
				case p.HTTPGet == nil:
					bad("the %s probe is not an HTTP GET of %s", kind, probePaths[kind])
				case p.HTTPGet.Path != probePaths[kind]:
					bad("the %s probe asks %q; %s serves %s for it (/healthz: alive, /readyz: ready)", kind, p.HTTPGet.Path, prog, probePaths[kind])
				default:
					if cp, ok := containerPort(c, p.HTTPGet.Port); ok && cp.ContainerPort != listen {
						bad("the %s probe asks port %d; %s listens on %d", kind, cp.ContainerPort, prog, listen)
					}
				}
			}
		}
	}
	return problems
}

// checkMetrics: every service serves /metrics on a port of its own
// (IHR_METRICS_ADDR), declared as its container port "metrics", and
// Prometheus is let in on that port alone: the API ports stay closed to it.
func checkMetrics(r *rendered) []string {
	var problems []string
	for _, w := range r.workloads() {
		for _, c := range containers(w.spec) {
			if prog, _, err := r.reads(c); err != nil || prog == "" || prog == "migrate" {
				continue
			}
			bad := func(format string, args ...any) {
				problems = append(problems, fmt.Sprintf("%s container %s: ", w.ref, c.Name)+fmt.Sprintf(format, args...))
			}
			v := r.containerEnv(c)["IHR_METRICS_ADDR"]
			if !v.known || v.value == "" {
				bad("IHR_METRICS_ADDR is not set: /metrics would share the API's port")
				continue
			}
			_, port, err := net.SplitHostPort(v.value)
			cp, ok := containerPort(c, intstr.FromString("metrics"))
			if err != nil || !ok || strconv.Itoa(int(cp.ContainerPort)) != port {
				bad("IHR_METRICS_ADDR=%s, but no container port named metrics has that port", v.value)
			}
		}
	}
	for _, np := range r.policies() {
		for i, rule := range np.Spec.Ingress {
			if !slices.ContainsFunc(rule.From, func(p networkingv1.NetworkPolicyPeer) bool { return reflect.DeepEqual(p, prometheus) }) {
				continue
			}
			if len(rule.Ports) == 0 {
				problems = append(problems, fmt.Sprintf("NetworkPolicy/%s ingress rule %d lets Prometheus reach every port", np.Name, i))
			}
			for _, p := range rule.Ports {
				if p.Port == nil || p.Port.Type != intstr.String || p.Port.StrVal != "metrics" {
					problems = append(problems, fmt.Sprintf("NetworkPolicy/%s ingress rule %d lets Prometheus reach port %v, not only the port named metrics", np.Name, i, p.Port))
				}
			}
		}
	}
	return problems
}

func checkGrace(r *rendered) []string {
	var problems []string
	for _, w := range r.workloads() {
		if w.kind == "Job" {
			continue
		}
		grace := int64(30)
		if w.spec.TerminationGracePeriodSeconds != nil {
			grace = *w.spec.TerminationGracePeriodSeconds
		}
		for _, c := range containers(w.spec) {
			prog, spec, err := r.reads(c)
			if err != nil || prog == "" || prog == "migrate" {
				continue
			}
			shutdown, err := time.ParseDuration(spec["IHR_SHUTDOWN_TIMEOUT"])
			if v, ok := r.containerEnv(c)["IHR_SHUTDOWN_TIMEOUT"]; ok && v.known && v.value != "" {
				shutdown, err = time.ParseDuration(v.value)
			}
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s container %s: IHR_SHUTDOWN_TIMEOUT: %v", w.ref, c.Name, err))
				continue
			}
			var preStop time.Duration
			if c.Lifecycle != nil && c.Lifecycle.PreStop != nil && c.Lifecycle.PreStop.Sleep != nil {
				preStop = time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
			}
			if time.Duration(grace)*time.Second <= preStop+shutdown {
				problems = append(problems, fmt.Sprintf("%s: terminationGracePeriodSeconds %d does not cover the preStop sleep (%s) and IHR_SHUTDOWN_TIMEOUT (%s): draining requests would be killed",
					w.ref, grace, preStop, shutdown))
			}
		}
	}
	return problems
}

func (r *rendered) hpas() []*autoscalingv2.HorizontalPodAutoscaler {
	return all[autoscalingv2.HorizontalPodAutoscaler](r)
}

func checkHPAs(r *rendered) []string {
	var problems []string
	scaled := map[string]bool{}
	for _, h := range r.hpas() {
		ref := h.Spec.ScaleTargetRef
		var target *workload
		for _, w := range r.workloads() {
			if w.kind == ref.Kind && w.name == ref.Name && (ref.APIVersion == "apps/v1") {
				target = &w
			}
		}
		if target == nil {
			problems = append(problems, fmt.Sprintf("HorizontalPodAutoscaler/%s scales %s %s/%s, which is not in the output", h.Name, ref.APIVersion, ref.Kind, ref.Name))
			continue
		}
		scaled[target.name] = true
		if target.replicas != nil {
			problems = append(problems, fmt.Sprintf("%s sets spec.replicas although HorizontalPodAutoscaler/%s scales it: every apply would reset the replicas", target.ref, h.Name))
		}
		minR := int32(1)
		if h.Spec.MinReplicas != nil {
			minR = *h.Spec.MinReplicas
		}
		if minR > h.Spec.MaxReplicas {
			problems = append(problems, fmt.Sprintf("HorizontalPodAutoscaler/%s: minReplicas %d > maxReplicas %d", h.Name, minR, h.Spec.MaxReplicas))
		}
		if len(h.Spec.Metrics) == 0 {
			problems = append(problems, fmt.Sprintf("HorizontalPodAutoscaler/%s has no metric", h.Name))
		}
		for _, m := range h.Spec.Metrics {
			if m.Type != autoscalingv2.ResourceMetricSourceType || m.Resource == nil || m.Resource.Target.Type != autoscalingv2.UtilizationMetricType {
				continue
			}
			for _, c := range target.spec.Containers {
				if _, ok := c.Resources.Requests[m.Resource.Name]; !ok {
					problems = append(problems, fmt.Sprintf("HorizontalPodAutoscaler/%s scales on %s utilization, but %s container %s requests no %s", h.Name, m.Resource.Name, target.ref, c.Name, m.Resource.Name))
				}
			}
		}
	}
	for _, name := range r.overlay.autoscaled {
		if !scaled[name] {
			problems = append(problems, fmt.Sprintf("Deployment/%s has no HorizontalPodAutoscaler", name))
		}
	}
	return problems
}

func checkPDBs(r *rendered) []string {
	var problems []string
	covered := map[string]bool{}
	for _, pdb := range all[policyv1.PodDisruptionBudget](r) {
		ws := r.matching(pdb.Spec.Selector)
		if len(ws) == 0 {
			problems = append(problems, fmt.Sprintf("PodDisruptionBudget/%s selects no pod template", pdb.Name))
		}
		for _, w := range ws {
			covered[w.ref] = true
			n := r.count(w)
			allowed := int32(0)
			switch {
			case pdb.Spec.MaxUnavailable != nil:
				v, err := intstr.GetScaledValueFromIntOrPercent(pdb.Spec.MaxUnavailable, int(n), true)
				if err != nil {
					problems = append(problems, fmt.Sprintf("PodDisruptionBudget/%s: maxUnavailable: %v", pdb.Name, err))
				}
				allowed = int32(v)
			case pdb.Spec.MinAvailable != nil:
				v, err := intstr.GetScaledValueFromIntOrPercent(pdb.Spec.MinAvailable, int(n), true)
				if err != nil {
					problems = append(problems, fmt.Sprintf("PodDisruptionBudget/%s: minAvailable: %v", pdb.Name, err))
				}
				allowed = n - int32(v)
			}
			if allowed < 1 {
				problems = append(problems, fmt.Sprintf("PodDisruptionBudget/%s lets none of the %d pods of %s go: node drains would block", pdb.Name, n, w.ref))
			}
		}
	}
	for _, w := range r.workloads() {
		if w.kind == "Job" || covered[w.ref] {
			continue
		}
		if slices.Contains(services, w.component) || r.count(w) > 1 {
			problems = append(problems, fmt.Sprintf("%s has no PodDisruptionBudget", w.ref))
		}
	}
	return problems
}

func checkEnvRead(r *rendered) []string {
	var problems []string
	for _, w := range r.workloads() {
		for _, c := range containers(w.spec) {
			prog, spec, err := r.reads(c)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s container %s: %v", w.ref, c.Name, err))
				continue
			}
			if prog == "" {
				continue
			}
			for name, v := range r.containerEnv(c) {
				if _, ok := spec[name]; ok {
					continue
				}
				if prog == "migrate" && strings.HasPrefix(name, "PG") {
					continue // libpq's
				}
				problems = append(problems, fmt.Sprintf("%s container %s sets %s (from %s), which %s does not read (`%s --env` lists what it reads)",
					w.ref, c.Name, name, v.from, prog, prog))
			}
		}
	}
	return problems
}

func checkEnvRequired(r *rendered) []string {
	var problems []string
	for _, w := range r.workloads() {
		for _, c := range containers(w.spec) {
			prog, spec, err := r.reads(c)
			if err != nil || prog == "" {
				continue
			}
			bad := func(format string, args ...any) {
				problems = append(problems, fmt.Sprintf("%s container %s: ", w.ref, c.Name)+fmt.Sprintf(format, args...))
			}
			env := r.containerEnv(c)
			for name, def := range spec {
				v, set := env[name]
				switch {
				case !set && def == "":
					bad("%s reads %s, whose default is empty, and it is not set: decide it here (an empty value is a decision too)", prog, name)
				case !set && isLocal(def):
					bad("%s reads %s, whose default %q points at the pod itself, and it is not set", prog, name, def)
				case set && v.known && isLocal(def) && strings.TrimSpace(v.value) == "":
					bad("%s is set empty (from %s), so %s falls back to %q, the pod itself", name, v.from, prog, def)
				case set && v.known && isLocal(v.value):
					bad("%s=%q (from %s) points at the pod itself", name, v.value, v.from)
				}
			}
			if prog == "migrate" {
				continue
			}
			if v := env["IHR_ENV"]; !v.known || v.value != "prod" {
				bad("IHR_ENV must be prod (is %q): dev starts an embedded NATS server when none answers (writing to .run/nats, on a read-only filesystem) and lets auth run without IHR_AUTH_KEY_SECRET", v.value)
			}
			if v, ok := env["IHR_AUTH_KEY_SECRET"]; ok && v.known && len(v.value) < 32 {
				bad("IHR_AUTH_KEY_SECRET (from %s) has %d characters; the auth service wants 32 or more", v.from, len(v.value))
			}
		}
	}
	return problems
}

// refs lists every ConfigMap and Secret a workload or Ingress names.
type reference struct {
	from     string
	kind     string // ConfigMap or Secret
	name     string
	key      string // "" for the whole object
	optional bool
}

func (r *rendered) references() []reference {
	var refs []reference
	opt := func(b *bool) bool { return b != nil && *b }
	for _, w := range r.workloads() {
		for _, c := range containers(w.spec) {
			from := fmt.Sprintf("%s container %s", w.ref, c.Name)
			for _, ef := range c.EnvFrom {
				if ef.ConfigMapRef != nil {
					refs = append(refs, reference{from, "ConfigMap", ef.ConfigMapRef.Name, "", opt(ef.ConfigMapRef.Optional)})
				}
				if ef.SecretRef != nil {
					refs = append(refs, reference{from, "Secret", ef.SecretRef.Name, "", opt(ef.SecretRef.Optional)})
				}
			}
			for _, e := range c.Env {
				if e.ValueFrom == nil {
					continue
				}
				if k := e.ValueFrom.ConfigMapKeyRef; k != nil {
					refs = append(refs, reference{from + " env " + e.Name, "ConfigMap", k.Name, k.Key, opt(k.Optional)})
				}
				if k := e.ValueFrom.SecretKeyRef; k != nil {
					refs = append(refs, reference{from + " env " + e.Name, "Secret", k.Name, k.Key, opt(k.Optional)})
				}
			}
		}
		for _, v := range w.spec.Volumes {
			from := fmt.Sprintf("%s volume %s", w.ref, v.Name)
			if v.ConfigMap != nil {
				refs = append(refs, reference{from, "ConfigMap", v.ConfigMap.Name, "", opt(v.ConfigMap.Optional)})
				for _, it := range v.ConfigMap.Items {
					refs = append(refs, reference{from, "ConfigMap", v.ConfigMap.Name, it.Key, opt(v.ConfigMap.Optional)})
				}
			}
			if v.Secret != nil {
				refs = append(refs, reference{from, "Secret", v.Secret.SecretName, "", opt(v.Secret.Optional)})
				for _, it := range v.Secret.Items {
					refs = append(refs, reference{from, "Secret", v.Secret.SecretName, it.Key, opt(v.Secret.Optional)})
				}
			}
			if v.Projected != nil {
				for _, s := range v.Projected.Sources {
					if s.ConfigMap != nil {
						refs = append(refs, reference{from, "ConfigMap", s.ConfigMap.Name, "", opt(s.ConfigMap.Optional)})
					}
					if s.Secret != nil {
						refs = append(refs, reference{from, "Secret", s.Secret.Name, "", opt(s.Secret.Optional)})
					}
				}
			}
		}
		for _, s := range w.spec.ImagePullSecrets {
			refs = append(refs, reference{w.ref + " imagePullSecrets", "Secret", s.Name, "", false})
		}
	}
	for _, in := range all[networkingv1.Ingress](r) {
		for _, tls := range in.Spec.TLS {
			refs = append(refs, reference{"Ingress/" + in.Name + " tls", "Secret", tls.SecretName, "", false})
		}
	}
	return refs
}

func checkRefs(r *rendered) []string {
	var problems []string
	for _, ref := range r.references() {
		var keys map[string]string
		switch ref.kind {
		case "ConfigMap":
			if cm := find[corev1.ConfigMap](r, ref.name); cm != nil {
				keys = cm.Data
			}
		case "Secret":
			if s := find[corev1.Secret](r, ref.name); s != nil {
				keys = secretData(s)
			}
		}
		if keys == nil && ref.kind == "Secret" {
			if doc, ok := r.overlay.operatorSecrets[ref.name]; ok {
				switch {
				case ref.key == "":
				case slices.Contains(doc.required, ref.key):
				case slices.Contains(doc.optional, ref.key):
					if !ref.optional {
						problems = append(problems, fmt.Sprintf("%s needs key %s of Secret %s, which operators may leave out: mark it optional, or make the key required (docs/operations.md)", ref.from, ref.key, ref.name))
					}
				default:
					problems = append(problems, fmt.Sprintf("%s names key %s of the operators' Secret %s, which is not on its documented list %v", ref.from, ref.key, ref.name, slices.Concat(doc.required, doc.optional)))
				}
				continue
			}
		}
		switch {
		case keys == nil && !ref.optional:
			where := "the output"
			if r.overlay.operatorSecrets != nil && ref.kind == "Secret" {
				where += " nor on the list of Secrets operators create"
			}
			problems = append(problems, fmt.Sprintf("%s names %s %s, which is neither in %s", ref.from, ref.kind, ref.name, where))
		case keys != nil && ref.key != "":
			if _, ok := keys[ref.key]; !ok && !ref.optional {
				problems = append(problems, fmt.Sprintf("%s names key %s of %s %s, which has no such key", ref.from, ref.key, ref.kind, ref.name))
			}
		}
	}
	return problems
}

func checkUsed(r *rendered) []string {
	used := map[string]bool{}
	for _, ref := range r.references() {
		used[ref.kind+"/"+ref.name] = true
	}
	var problems []string
	for _, o := range r.objects {
		if (o.kind == "ConfigMap" || o.kind == "Secret") && !used[o.kind+"/"+o.obj.GetName()] {
			problems = append(problems, fmt.Sprintf("%s is used by nothing: a misnamed reference, or left over", o))
		}
	}
	return problems
}

func checkJob(r *rendered) []string {
	var problems []string
	jobs := all[batchv1.Job](r)
	if len(jobs) == 0 {
		return []string{"no migration Job"}
	}
	dockerfile, err := os.ReadFile(filepath.Join(r.root, "deployments", "migrate.Dockerfile"))
	if err != nil {
		return []string{err.Error()}
	}
	entrypoint := regexp.MustCompile(`(?m)^ENTRYPOINT\s+\["/bin/bash",\s*"-ec"\]`)
	copies := regexp.MustCompile(`(?m)^COPY\s+scripts/db\s`)
	for _, j := range jobs {
		bad := func(format string, args ...any) {
			problems = append(problems, "Job/"+j.Name+": "+fmt.Sprintf(format, args...))
		}
		p := j.Spec.Template.Spec
		if p.RestartPolicy != corev1.RestartPolicyNever && p.RestartPolicy != corev1.RestartPolicyOnFailure {
			bad("restartPolicy %q", p.RestartPolicy)
		}
		if j.Spec.BackoffLimit == nil {
			bad("no backoffLimit")
		}
		for _, c := range p.Containers {
			if prog, _ := ours(c.Image); prog != "migrate" {
				bad("container %s runs %s, not the migration image %smigrate (deployments/migrate.Dockerfile)", c.Name, c.Image, ourImage)
				continue
			}
			if len(c.Command) > 0 {
				bad("container %s replaces the image's entrypoint (bash -ec): give the script as args", c.Name)
			}
			if !entrypoint.Match(dockerfile) {
				bad("deployments/migrate.Dockerfile's ENTRYPOINT is no longer [\"/bin/bash\", \"-ec\"]: the job's args are a bash script")
			}
			if !copies.Match(dockerfile) {
				bad("deployments/migrate.Dockerfile does not COPY scripts/db")
			}
			script := strings.Join(c.Args, " ")
			for _, want := range []string{"scripts/db/init.sh", "scripts/db/migrate.sh up"} {
				if !strings.Contains(script, want) {
					bad("container %s does not run %s (args %q)", c.Name, want, script)
				}
			}
			for _, s := range jobScripts(&c) {
				if _, err := os.Stat(filepath.Join(r.root, s)); err != nil {
					bad("container %s runs %s, which is not in the repository", c.Name, s)
				}
			}
		}
	}
	return problems
}

func checkIngress(r *rendered) []string {
	var problems []string
	ins := all[networkingv1.Ingress](r)
	if len(ins) == 0 {
		return []string{"no Ingress for the gateway"}
	}
	for _, in := range ins {
		var backends []networkingv1.IngressServiceBackend
		if in.Spec.DefaultBackend != nil && in.Spec.DefaultBackend.Service != nil {
			backends = append(backends, *in.Spec.DefaultBackend.Service)
		}
		for _, rule := range in.Spec.Rules {
			if rule.HTTP == nil {
				continue
			}
			for _, p := range rule.HTTP.Paths {
				if p.Backend.Service != nil {
					backends = append(backends, *p.Backend.Service)
				}
			}
		}
		for _, b := range backends {
			s := find[corev1.Service](r, b.Name)
			if s == nil {
				problems = append(problems, fmt.Sprintf("Ingress/%s sends to Service %s, which is not in the output", in.Name, b.Name))
				continue
			}
			if s.Spec.Selector[nameLabel] != "gateway" {
				problems = append(problems, fmt.Sprintf("Ingress/%s sends to Service %s: only the gateway is public", in.Name, b.Name))
			}
			found := false
			for _, p := range s.Spec.Ports {
				found = found || (b.Port.Name != "" && p.Name == b.Port.Name) || (b.Port.Name == "" && p.Port == b.Port.Number)
			}
			if !found {
				problems = append(problems, fmt.Sprintf("Ingress/%s sends to port %q/%d of Service %s, which has no such port", in.Name, b.Port.Name, b.Port.Number, b.Name))
			}
		}
	}
	return problems
}

func checkNamespace(r *rendered) []string {
	var problems []string
	ns := all[corev1.Namespace](r)
	if len(ns) != 1 {
		return []string{fmt.Sprintf("%d Namespace objects, want the overlay's one", len(ns))}
	}
	want := ns[0].Name
	if ns[0].Labels["pod-security.kubernetes.io/enforce"] != "restricted" {
		problems = append(problems, fmt.Sprintf("Namespace/%s does not enforce the restricted Pod Security Standard", want))
	}
	for _, o := range r.objects {
		if o.kind != "Namespace" && o.obj.GetNamespace() != want {
			problems = append(problems, fmt.Sprintf("%s is in namespace %q, not %q: NetworkPolicies and Service names work within one namespace", o, o.obj.GetNamespace(), want))
		}
	}
	return problems
}

func checkProd(r *rendered) []string {
	var problems []string
	for _, in := range all[networkingv1.Ingress](r) {
		tlsHosts := map[string]bool{}
		for _, tls := range in.Spec.TLS {
			if tls.SecretName == "" {
				problems = append(problems, fmt.Sprintf("Ingress/%s: a TLS entry without secretName", in.Name))
			}
			for _, h := range tls.Hosts {
				tlsHosts[h] = true
			}
		}
		for _, rule := range in.Spec.Rules {
			if !tlsHosts[rule.Host] {
				problems = append(problems, fmt.Sprintf("Ingress/%s serves host %q without TLS", in.Name, rule.Host))
			}
		}
	}
	for _, w := range r.workloads() {
		switch {
		case w.component == "postgresql" || w.component == "redis":
			problems = append(problems, fmt.Sprintf("%s runs %s in the cluster: production's is outside, given by the Secret ihr-secrets", w.ref, w.component))
		case slices.Contains(services, w.component) && w.component != "cachewarmer" && r.count(w) < 2:
			problems = append(problems, fmt.Sprintf("%s runs %d pod(s): production runs at least 2 of each service but the cache warmer", w.ref, r.count(w)))
		}
	}
	return problems
}
