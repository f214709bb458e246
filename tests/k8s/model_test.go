package k8s

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// all returns the objects of type T.
func all[T any](r *rendered) []*T {
	var out []*T
	for _, o := range r.objects {
		if t, ok := any(o.obj).(*T); ok {
			out = append(out, t)
		}
	}
	return out
}

// find returns the object of type T named name, or nil.
func find[T any](r *rendered, name string) *T {
	for _, o := range r.objects {
		if t, ok := any(o.obj).(*T); ok && o.obj.GetName() == name {
			return t
		}
	}
	return nil
}

// workload is a pod template and what owns it.
type workload struct {
	ref       string // Deployment/gateway
	kind      string
	name      string
	component string // the template's app.kubernetes.io/name
	labels    map[string]string
	replicas  *int32 // nil for a Job, or when unset
	selector  *metav1.LabelSelector
	spec      *corev1.PodSpec
	claims    []corev1.PersistentVolumeClaim // a StatefulSet's volumeClaimTemplates
	deploy    *appsv1.Deployment
	sts       *appsv1.StatefulSet
}

func (r *rendered) workloads() []workload {
	var out []workload
	for _, o := range r.objects {
		var w workload
		switch x := o.obj.(type) {
		case *appsv1.Deployment:
			w = workload{labels: x.Spec.Template.Labels, replicas: x.Spec.Replicas, selector: x.Spec.Selector, spec: &x.Spec.Template.Spec, deploy: x}
		case *appsv1.StatefulSet:
			w = workload{labels: x.Spec.Template.Labels, replicas: x.Spec.Replicas, selector: x.Spec.Selector, spec: &x.Spec.Template.Spec,
				claims: x.Spec.VolumeClaimTemplates, sts: x}
		case *batchv1.Job:
			w = workload{labels: x.Spec.Template.Labels, selector: x.Spec.Selector, spec: &x.Spec.Template.Spec}
		default:
			continue
		}
		w.kind, w.name, w.ref = o.kind, o.obj.GetName(), o.String()
		w.component = w.labels[nameLabel]
		out = append(out, w)
	}
	return out
}

// count is how many pods the workload runs at least: its replicas, or its
// HPA's minimum.
func (r *rendered) count(w workload) int32 {
	if w.kind == "Job" {
		return 1
	}
	for _, h := range r.hpas() {
		if h.Spec.ScaleTargetRef.Kind == w.kind && h.Spec.ScaleTargetRef.Name == w.name {
			if h.Spec.MinReplicas != nil {
				return *h.Spec.MinReplicas
			}
			return 1
		}
	}
	if w.replicas == nil {
		return 1
	}
	return *w.replicas
}

// containers are a pod's init and regular containers.
func containers(spec *corev1.PodSpec) []*corev1.Container {
	var out []*corev1.Container
	for i := range spec.InitContainers {
		out = append(out, &spec.InitContainers[i])
	}
	for i := range spec.Containers {
		out = append(out, &spec.Containers[i])
	}
	return out
}

// imageRef is an image reference split into repository, tag and digest.
type imageRef struct{ repo, tag, digest string }

func parseImage(s string) imageRef {
	var ref imageRef
	s, ref.digest, _ = strings.Cut(s, "@")
	slash := strings.LastIndex(s, "/")
	if i := strings.LastIndex(s, ":"); i > slash {
		s, ref.tag = s[:i], s[i+1:]
	}
	ref.repo = s
	return ref
}

// ours returns which of our programs an image runs: a service or "migrate".
func ours(image string) (string, bool) {
	repo := parseImage(image).repo
	if !strings.HasPrefix(repo, ourImage) {
		return "", false
	}
	return strings.TrimPrefix(repo, ourImage), true
}

// envValue is where a container's variable comes from.
type envValue struct {
	from  string // for messages
	value string
	known bool // value is what the container gets (not from an operator's Secret, not a field)
}

// containerEnv resolves what a container's environment holds, by name.
func (r *rendered) containerEnv(c *corev1.Container) map[string]envValue {
	env := map[string]envValue{}
	for _, ef := range c.EnvFrom {
		switch {
		case ef.ConfigMapRef != nil:
			if cm := find[corev1.ConfigMap](r, ef.ConfigMapRef.Name); cm != nil {
				for k, v := range cm.Data {
					env[ef.Prefix+k] = envValue{from: "ConfigMap " + cm.Name, value: v, known: true}
				}
			}
		case ef.SecretRef != nil:
			if s := find[corev1.Secret](r, ef.SecretRef.Name); s != nil {
				for k, v := range secretData(s) {
					env[ef.Prefix+k] = envValue{from: "Secret " + s.Name, value: v, known: true}
				}
			} else if keys, ok := r.overlay.operatorSecrets[ef.SecretRef.Name]; ok {
				for _, k := range slices.Concat(keys.required, keys.optional) {
					env[ef.Prefix+k] = envValue{from: "operator Secret " + ef.SecretRef.Name}
				}
			}
		}
	}
	for _, e := range c.Env {
		v := envValue{from: "value", value: e.Value, known: true}
		if vf := e.ValueFrom; vf != nil {
			switch {
			case vf.ConfigMapKeyRef != nil:
				v = envValue{from: "ConfigMap " + vf.ConfigMapKeyRef.Name + " key " + vf.ConfigMapKeyRef.Key}
				if cm := find[corev1.ConfigMap](r, vf.ConfigMapKeyRef.Name); cm != nil {
					v.value, v.known = cm.Data[vf.ConfigMapKeyRef.Key]
				}
			case vf.SecretKeyRef != nil:
				v = envValue{from: "Secret " + vf.SecretKeyRef.Name + " key " + vf.SecretKeyRef.Key}
				if s := find[corev1.Secret](r, vf.SecretKeyRef.Name); s != nil {
					v.value, v.known = secretData(s)[vf.SecretKeyRef.Key]
				}
			default:
				v = envValue{from: "a field of the pod"}
			}
		}
		env[e.Name] = v
	}
	return env
}

func secretData(s *corev1.Secret) map[string]string {
	out := map[string]string{}
	for k, v := range s.Data {
		out[k] = string(v)
	}
	for k, v := range s.StringData {
		out[k] = v
	}
	return out
}

// reads is what the program in a container reads, and what it is called.
func (r *rendered) reads(c *corev1.Container) (string, envSpec, error) {
	prog, ok := ours(c.Image)
	if !ok {
		return "", nil, nil
	}
	if prog == "migrate" {
		spec, err := scriptEnv(r.root, jobScripts(c))
		return prog, spec, err
	}
	spec, ok := r.env[prog]
	if !ok {
		return prog, nil, fmt.Errorf("image %s: no service %q in services/", c.Image, prog)
	}
	return prog, spec, nil
}

// jobScript finds the scripts a migration job's command runs.
var jobScript = regexp.MustCompile(`scripts/db/[A-Za-z0-9_.-]+\.sh`)

func jobScripts(c *corev1.Container) []string {
	return jobScript.FindAllString(strings.Join(slices.Concat(c.Command, c.Args), " "), -1)
}

// isLocal reports whether a value points at the pod itself.
func isLocal(v string) bool {
	return strings.Contains(v, "127.0.0.1") || strings.Contains(strings.ToLower(v), "localhost") || strings.Contains(v, "[::1]")
}

// listenPort is the port a service listens on: IHR_<NAME>_ADDR or its default.
func listenPort(svc string, spec envSpec, env map[string]envValue) (int32, error) {
	name := "IHR_" + strings.ToUpper(svc) + "_ADDR"
	addr, ok := spec[name]
	if !ok {
		return 0, fmt.Errorf("%s does not read %s", svc, name)
	}
	if v, set := env[name]; set && v.known && v.value != "" {
		addr = v.value
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, fmt.Errorf("%s=%q: %v", name, addr, err)
	}
	n, err := strconv.Atoi(port)
	return int32(n), err
}

// containerPort resolves a port (name or number) among a container's ports.
func containerPort(c *corev1.Container, p intstr.IntOrString) (corev1.ContainerPort, bool) {
	for _, cp := range c.Ports {
		if (p.Type == intstr.String && cp.Name == p.StrVal) || (p.Type == intstr.Int && cp.ContainerPort == p.IntVal) {
			return cp, true
		}
	}
	return corev1.ContainerPort{}, false
}

// podPort resolves a port (name or number) among all of a pod's containers.
func podPort(spec *corev1.PodSpec, p intstr.IntOrString) (corev1.ContainerPort, bool) {
	for _, c := range containers(spec) {
		if cp, ok := containerPort(c, p); ok {
			return cp, true
		}
	}
	return corev1.ContainerPort{}, false
}

// selects reports whether a label selector matches a set of labels; an
// invalid selector matches nothing.
func selects(sel *metav1.LabelSelector, lbls map[string]string) bool {
	if sel == nil {
		return false
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return false
	}
	return s.Matches(labels.Set(lbls))
}

// matching are the workloads whose pods a selector (a Service's map, or a
// label selector) picks.
func (r *rendered) matching(sel *metav1.LabelSelector) []workload {
	var out []workload
	for _, w := range r.workloads() {
		if selects(sel, w.labels) {
			out = append(out, w)
		}
	}
	return out
}

// urlTarget is an in-cluster service a URL names.
type urlTarget struct {
	service string
	port    int32
}

var defaultPorts = map[string]int32{
	"http": 80, "https": 443, "nats": 4222, "tls": 4222, "redis": 6379, "rediss": 6379,
	"postgres": 5432, "postgresql": 5432, "smtp": 587, "smtps": 465,
}

// inCluster says whether a URL names a Service of the cluster (a bare name,
// or <name>.<namespace>.svc[.cluster.local]) and which. <name>.<namespace>
// alone cannot be told from an outside domain, and is taken as one.
func inCluster(raw string) (urlTarget, bool, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return urlTarget{}, false, fmt.Errorf("not a URL")
	}
	host := u.Hostname()
	if net.ParseIP(host) != nil {
		return urlTarget{}, false, nil
	}
	labels := strings.Split(strings.TrimSuffix(host, "."), ".")
	switch {
	case len(labels) == 1:
	case len(labels) == 3 && labels[2] == "svc",
		len(labels) == 5 && strings.Join(labels[2:], ".") == "svc.cluster.local":
	default:
		return urlTarget{}, false, nil
	}
	port := defaultPorts[u.Scheme]
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil {
			return urlTarget{}, false, fmt.Errorf("bad port %q", p)
		}
		port = int32(n)
	}
	return urlTarget{service: labels[0], port: port}, true, nil
}
