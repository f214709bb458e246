package k8s

import (
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// mistake is one error someone could make in the manifests, made on the
// rendered objects, and what the check must then say.
type mistake struct {
	name    string
	overlay string
	check   string
	make    func(t *testing.T, r *rendered)
	want    string
}

var mistakes = []mistake{
	{"readiness on a path nobody serves", "dev", "probes", func(t *testing.T, r *rendered) {
		mainContainer(t, r, "Deployment", "gateway").ReadinessProbe.HTTPGet.Path = "/ready"
	}, `the readiness probe asks "/ready"`},
	{"liveness on readiness", "prod", "probes", func(t *testing.T, r *rendered) {
		mainContainer(t, r, "Deployment", "query").LivenessProbe.HTTPGet.Path = "/readyz"
	}, `the liveness probe asks "/readyz"`},
	{"probe on an undeclared port", "dev", "probes", func(t *testing.T, r *rendered) {
		mainContainer(t, r, "Deployment", "auth").StartupProbe.HTTPGet.Port = intstr.FromString("admin")
	}, "startup probe port admin is not a port"},
	{"metrics on the API's port", "prod", "metrics-port", func(t *testing.T, r *rendered) {
		delete(configMap(t, r, "ihr-common").Data, "IHR_METRICS_ADDR")
	}, "IHR_METRICS_ADDR is not set"},
	{"metrics port not declared", "dev", "metrics-port", func(t *testing.T, r *rendered) {
		configMap(t, r, "ihr-common").Data["IHR_METRICS_ADDR"] = ":9100"
	}, "IHR_METRICS_ADDR=:9100, but no container port named metrics"},
	{"Prometheus let into the API", "dev", "metrics-port", func(t *testing.T, r *rendered) {
		get[networkingv1.NetworkPolicy](t, r, "prometheus-scrape").Spec.Ingress[0].Ports[0].Port = new(intstr.FromInt32(8081))
	}, "lets Prometheus reach port 8081"},
	{"service listens elsewhere than its port", "dev", "probes", func(t *testing.T, r *rendered) {
		configMap(t, r, "ihr-gateway").Data["IHR_GATEWAY_ADDR"] = ":9090"
	}, "gateway listens on 9090"},
	{"service targets a missing port", "dev", "services-select-pods", func(t *testing.T, r *rendered) {
		get[corev1.Service](t, r, "query").Spec.Ports[0].TargetPort = intstr.FromString("web")
	}, "targetPort web is no container port"},
	{"service selects nothing", "prod", "services-select-pods", func(t *testing.T, r *rendered) {
		get[corev1.Service](t, r, "auth").Spec.Selector[nameLabel] = "authh"
	}, "matches no pod template"},
	{"headless service missing", "prod", "services-select-pods", func(t *testing.T, r *rendered) {
		remove(t, r, "Service", "nats-headless")
	}, `serviceName "nats-headless" is no headless Service`},
	{"latest tag", "prod", "images-pinned", func(t *testing.T, r *rendered) {
		mainContainer(t, r, "Deployment", "gateway").Image = ourImage + "gateway:latest"
	}, "is not pinned"},
	{"untagged third-party image", "prod", "images-pinned", func(t *testing.T, r *rendered) {
		mainContainer(t, r, "StatefulSet", "nats").Image = "nats"
	}, "has no tag"},
	{"floating minor tag", "dev", "images-pinned", func(t *testing.T, r *rendered) {
		mainContainer(t, r, "Deployment", "redis").Image = "redis:7.4"
	}, "is not pinned"},
	{"another service's image", "dev", "images-pinned", func(t *testing.T, r *rendered) {
		mainContainer(t, r, "Deployment", "query").Image = ourImage + "gateway:0.1.0"
	}, "not " + ourImage + "query"},
	{"a variable nobody reads", "dev", "env-read-by-service", func(t *testing.T, r *rendered) {
		c := mainContainer(t, r, "Deployment", "gateway")
		c.Env = append(c.Env, corev1.EnvVar{Name: "IHR_QUERY_URLS", Value: "http://query:8081"})
	}, "sets IHR_QUERY_URLS"},
	{"a variable of another service", "prod", "env-read-by-service", func(t *testing.T, r *rendered) {
		c := mainContainer(t, r, "Deployment", "cachewarmer")
		c.Env = append(c.Env, corev1.EnvVar{Name: "IHR_DATABASE_URL", Value: "postgres://db.example.org/ihr"})
	}, "sets IHR_DATABASE_URL"},
	{"a shared setting one service does not read", "dev", "env-read-by-service", func(t *testing.T, r *rendered) {
		configMap(t, r, "ihr-common").Data["IHR_PAGE_SIZE"] = "1000"
	}, "sets IHR_PAGE_SIZE"},
	{"database URL left out", "prod", "env-required-set", func(t *testing.T, r *rendered) {
		dropEnv(mainContainer(t, r, "Deployment", "query"), "IHR_DATABASE_URL")
	}, "IHR_DATABASE_URL, whose default"},
	{"a URL to the pod itself", "dev", "env-required-set", func(t *testing.T, r *rendered) {
		configMap(t, r, "ihr-gateway").Data["IHR_QUERY_URL"] = "http://127.0.0.1:8081"
	}, "points at the pod itself"},
	{"an empty URL falls back to localhost", "dev", "env-required-set", func(t *testing.T, r *rendered) {
		configMap(t, r, "ihr-cachewarmer").Data["IHR_QUERY_URL"] = ""
	}, "is set empty"},
	{"an empty-default variable left undecided", "dev", "env-required-set", func(t *testing.T, r *rendered) {
		delete(configMap(t, r, "ihr-gateway").Data, "IHR_TRUSTED_PROXIES")
	}, "IHR_TRUSTED_PROXIES, whose default is empty"},
	{"dev mode in the cluster", "prod", "env-required-set", func(t *testing.T, r *rendered) {
		configMap(t, r, "ihr-common").Data["IHR_ENV"] = "dev"
	}, "IHR_ENV must be prod"},
	{"a short auth key secret", "dev", "env-required-set", func(t *testing.T, r *rendered) {
		secret(t, r, "ihr-secrets").Data["auth-key-secret"] = []byte("too-short")
	}, "wants 32 or more"},
	{"migration without a database", "dev", "env-required-set", func(t *testing.T, r *rendered) {
		dropEnv(&get[batchv1.Job](t, r, "ihr-migrate").Spec.Template.Spec.Containers[0], "IHR_DATABASE_URL")
	}, "IHR_DATABASE_URL, whose default"},
	{"a misspelt Secret", "prod", "config-secret-refs", func(t *testing.T, r *rendered) {
		mainContainer(t, r, "Deployment", "auth").Env[0].ValueFrom.SecretKeyRef.Name = "ihr-secret"
	}, "names Secret ihr-secret, which is neither in the output nor on the list"},
	{"an undocumented key of the operators' Secret", "prod", "config-secret-refs", func(t *testing.T, r *rendered) {
		mainContainer(t, r, "Deployment", "auth").Env[0].ValueFrom.SecretKeyRef.Key = "database_url"
	}, "not on its documented list"},
	{"a required reference to an optional key", "prod", "config-secret-refs", func(t *testing.T, r *rendered) {
		envVar(t, mainContainer(t, r, "Deployment", "auth"), "IHR_SMTP_URL").ValueFrom.SecretKeyRef.Optional = nil
	}, "operators may leave out"},
	{"a key the generated Secret lacks", "dev", "config-secret-refs", func(t *testing.T, r *rendered) {
		envVar(t, mainContainer(t, r, "Deployment", "cachewarmer"), "IHR_REDIS_URL").ValueFrom.SecretKeyRef.Key = "redis-uri"
	}, "has no such key"},
	{"a missing ConfigMap", "dev", "config-secret-refs", func(t *testing.T, r *rendered) {
		mainContainer(t, r, "Deployment", "query").EnvFrom[0].ConfigMapRef.Name = "ihr-commons"
	}, "names ConfigMap ihr-commons"},
	{"a ConfigMap nobody uses", "dev", "config-secret-used", func(t *testing.T, r *rendered) {
		r.objects = append(r.objects, object{kind: "ConfigMap", obj: &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "ihr-extra"}}})
	}, "ConfigMap/ihr-extra is used by nothing"},
	{"a writable root filesystem", "dev", "security-context", func(t *testing.T, r *rendered) {
		mainContainer(t, r, "Deployment", "redis").SecurityContext.ReadOnlyRootFilesystem = new(false)
	}, "readOnlyRootFilesystem must be true"},
	{"capabilities kept", "prod", "security-context", func(t *testing.T, r *rendered) {
		mainContainer(t, r, "StatefulSet", "nats").SecurityContext.Capabilities.Drop = nil
	}, "capabilities must drop ALL"},
	{"no seccomp profile", "prod", "security-context", func(t *testing.T, r *rendered) {
		d := get[appsv1.Deployment](t, r, "auth")
		d.Spec.Template.Spec.SecurityContext.SeccompProfile = nil
		d.Spec.Template.Spec.Containers[0].SecurityContext.SeccompProfile = nil
	}, "seccompProfile must be RuntimeDefault"},
	{"root allowed", "prod", "security-context", func(t *testing.T, r *rendered) {
		j := get[batchv1.Job](t, r, "ihr-migrate")
		j.Spec.Template.Spec.SecurityContext.RunAsNonRoot = nil
		j.Spec.Template.Spec.Containers[0].SecurityContext.RunAsNonRoot = new(false)
	}, "runAsNonRoot must be true"},
	{"privilege escalation", "dev", "security-context", func(t *testing.T, r *rendered) {
		mainContainer(t, r, "Deployment", "ingestion").SecurityContext.AllowPrivilegeEscalation = nil
	}, "allowPrivilegeEscalation must be false"},
	{"no writable /tmp", "dev", "security-context", func(t *testing.T, r *rendered) {
		mainContainer(t, r, "Deployment", "gateway").VolumeMounts = nil
	}, "/tmp needs an emptyDir"},
	{"a mount of an undeclared volume", "dev", "volumes", func(t *testing.T, r *rendered) {
		c := mainContainer(t, r, "Deployment", "query")
		c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: "cache", MountPath: "/cache"})
	}, `mounts volume "cache", which the pod does not declare`},
	{"a rolling update on a ReadWriteOnce volume", "dev", "volumes", func(t *testing.T, r *rendered) {
		get[appsv1.Deployment](t, r, "postgres").Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType}
	}, "use strategy Recreate"},
	{"a claim not in the output", "dev", "volumes", func(t *testing.T, r *rendered) {
		remove(t, r, "PersistentVolumeClaim", "nats-data")
	}, `claims "nats-data", which is not in the output`},
	{"no memory limit", "dev", "resources", func(t *testing.T, r *rendered) {
		delete(mainContainer(t, r, "Deployment", "query").Resources.Limits, corev1.ResourceMemory)
	}, "has no memory limit"},
	{"an HPA of nothing", "prod", "hpa-targets", func(t *testing.T, r *rendered) {
		get[autoscalingv2.HorizontalPodAutoscaler](t, r, "gateway").Spec.ScaleTargetRef.Name = "gatewy"
	}, "which is not in the output"},
	{"replicas fighting the HPA", "prod", "hpa-targets", func(t *testing.T, r *rendered) {
		get[appsv1.Deployment](t, r, "query").Spec.Replicas = new(int32(2))
	}, "sets spec.replicas although"},
	{"an HPA on CPU of a pod that requests none", "prod", "hpa-targets", func(t *testing.T, r *rendered) {
		delete(mainContainer(t, r, "Deployment", "gateway").Resources.Requests, corev1.ResourceCPU)
	}, "requests no cpu"},
	{"no HPA for the query service", "prod", "hpa-targets", func(t *testing.T, r *rendered) {
		remove(t, r, "HorizontalPodAutoscaler", "query")
	}, "Deployment/query has no HorizontalPodAutoscaler"},
	{"a PDB of nothing", "prod", "pdb-targets", func(t *testing.T, r *rendered) {
		get[policyv1.PodDisruptionBudget](t, r, "query").Spec.Selector.MatchLabels[nameLabel] = "queries"
	}, "selects no pod template"},
	{"a PDB that blocks drains", "prod", "pdb-targets", func(t *testing.T, r *rendered) {
		p := get[policyv1.PodDisruptionBudget](t, r, "gateway")
		p.Spec.MaxUnavailable, p.Spec.MinAvailable = nil, new(intstr.FromInt32(3))
	}, "lets none of the 3 pods"},
	{"a service without a PDB", "dev", "pdb-targets", func(t *testing.T, r *rendered) {
		remove(t, r, "PodDisruptionBudget", "auth")
	}, "Deployment/auth has no PodDisruptionBudget"},
	{"a short grace period", "prod", "graceful-shutdown", func(t *testing.T, r *rendered) {
		get[appsv1.Deployment](t, r, "ingestion").Spec.Template.Spec.TerminationGracePeriodSeconds = new(int64(20))
	}, "does not cover"},
	{"a migration job running a script that does not exist", "dev", "migration-job", func(t *testing.T, r *rendered) {
		get[batchv1.Job](t, r, "ihr-migrate").Spec.Template.Spec.Containers[0].Args = []string{"bash scripts/db/migrate-all.sh"}
	}, "runs scripts/db/migrate-all.sh, which is not in the repository"},
	{"a migration job that does not migrate", "prod", "migration-job", func(t *testing.T, r *rendered) {
		get[batchv1.Job](t, r, "ihr-migrate").Spec.Template.Spec.Containers[0].Args = []string{"bash scripts/db/init.sh"}
	}, "does not run scripts/db/migrate.sh up"},
	{"an Ingress to another service", "prod", "ingress", func(t *testing.T, r *rendered) {
		get[networkingv1.Ingress](t, r, "ihr").Spec.Rules[0].HTTP.Paths[0].Backend.Service.Name = "query"
	}, "only the gateway is public"},
	{"an Ingress to a missing port", "dev", "ingress", func(t *testing.T, r *rendered) {
		get[networkingv1.Ingress](t, r, "ihr").Spec.Rules[0].HTTP.Paths[0].Backend.Service.Port.Name = "web"
	}, "which has no such port"},
	{"an object in another namespace", "prod", "namespace", func(t *testing.T, r *rendered) {
		get[corev1.Service](t, r, "query").Namespace = "default"
	}, `Service/query is in namespace "default"`},
	{"no default deny", "dev", "netpol-default-deny-dns", func(t *testing.T, r *rendered) {
		remove(t, r, "NetworkPolicy", "default-deny")
	}, "no default-deny NetworkPolicy"},
	{"no DNS", "prod", "netpol-default-deny-dns", func(t *testing.T, r *rendered) {
		remove(t, r, "NetworkPolicy", "allow-dns")
	}, "cannot reach DNS"},
	{"the query service open to other namespaces", "dev", "netpol-outside-only-gateway", func(t *testing.T, r *rendered) {
		np := get[networkingv1.NetworkPolicy](t, r, "query")
		np.Spec.Ingress[0].From = append(np.Spec.Ingress[0].From, networkingv1.NetworkPolicyPeer{NamespaceSelector: &metav1.LabelSelector{}})
	}, "reach query"},
	{"the auth service open to the world", "prod", "netpol-outside-only-gateway", func(t *testing.T, r *rendered) {
		get[networkingv1.NetworkPolicy](t, r, "auth").Spec.Ingress[0].From = nil
	}, "from anywhere, reach [auth]"},
	{"the gateway reaching the database", "prod", "netpol-only-what-it-calls", func(t *testing.T, r *rendered) {
		np := get[networkingv1.NetworkPolicy](t, r, "postgresql-clients")
		np.Spec.PodSelector.MatchExpressions[0].Values = append(np.Spec.PodSelector.MatchExpressions[0].Values, "gateway")
	}, "lets gateway reach 0.0.0.0/0 on port 5432"},
	{"the cache warmer reaching ingestion", "dev", "netpol-only-what-it-calls", func(t *testing.T, r *rendered) {
		np := get[networkingv1.NetworkPolicy](t, r, "cachewarmer")
		np.Spec.Egress[0].To[0].PodSelector.MatchLabels[nameLabel] = "ingestion"
	}, "lets cachewarmer reach ingestion"},
	{"any port", "dev", "netpol-only-what-it-calls", func(t *testing.T, r *rendered) {
		get[networkingv1.NetworkPolicy](t, r, "gateway").Spec.Egress[0].Ports = nil
	}, "allows every port"},
	{"Redis unreachable", "dev", "netpol-reaches-what-it-calls", func(t *testing.T, r *rendered) {
		remove(t, r, "NetworkPolicy", "redis-clients")
	}, "keep Deployment/gateway from Deployment/redis"},
	{"the outside database unreachable", "prod", "netpol-reaches-what-it-calls", func(t *testing.T, r *rendered) {
		remove(t, r, "NetworkPolicy", "postgresql-clients")
	}, "no NetworkPolicy lets it reach port [5432]"},
	{"a URL to no Service", "dev", "urls-name-services", func(t *testing.T, r *rendered) {
		configMap(t, r, "ihr-gateway").Data["IHR_QUERY_URL"] = "http://querry:8081"
	}, `names host "querry", which is no Service`},
	{"a URL on the wrong port", "dev", "urls-name-services", func(t *testing.T, r *rendered) {
		configMap(t, r, "ihr-cachewarmer").Data["IHR_AUTH_URL"] = "http://auth:8084"
	}, "port 8084 is not a port of Service auth"},
	{"a call the policies block", "prod", "urls-name-services", func(t *testing.T, r *rendered) {
		np := get[networkingv1.NetworkPolicy](t, r, "auth")
		np.Spec.Ingress[0].From = slices.DeleteFunc(np.Spec.Ingress[0].From, func(p networkingv1.NetworkPolicyPeer) bool {
			return p.PodSelector.MatchLabels[nameLabel] == "cachewarmer"
		})
	}, "NetworkPolicies block Deployment/cachewarmer -> Deployment/auth port 8083"},
	{"fewer stream copies than servers", "prod", "nats", func(t *testing.T, r *rendered) {
		configMap(t, r, "ihr-common").Data["IHR_NATS_REPLICAS"] = "1"
	}, "IHR_NATS_REPLICAS is 1 with 3 NATS server(s)"},
	{"more stream copies than servers", "dev", "nats", func(t *testing.T, r *rendered) {
		configMap(t, r, "ihr-common").Data["IHR_NATS_REPLICAS"] = "3"
	}, "IHR_NATS_REPLICAS is 3 with 1 NATS server(s)"},
	{"a server missing from the routes", "prod", "nats", func(t *testing.T, r *rendered) {
		cm := configMap(t, r, "nats-config")
		cm.Data["nats.conf"] = strings.ReplaceAll(cm.Data["nats.conf"], "nats://nats-2.nats-headless:6222", "")
	}, "cluster routes"},
	{"servers started one by one", "prod", "nats", func(t *testing.T, r *rendered) {
		get[appsv1.StatefulSet](t, r, "nats").Spec.PodManagementPolicy = appsv1.OrderedReadyPodManagement
	}, "podManagementPolicy must be Parallel"},
	{"no routes between servers", "prod", "nats", func(t *testing.T, r *rendered) {
		remove(t, r, "NetworkPolicy", "nats-cluster")
	}, "keep the servers from each other"},
	{"JetStream on the pod's own disk", "prod", "nats", func(t *testing.T, r *rendered) {
		get[appsv1.StatefulSet](t, r, "nats").Spec.VolumeClaimTemplates = nil
	}, "no volumeClaimTemplates"},
	{"no TLS in production", "prod", "prod", func(t *testing.T, r *rendered) {
		get[networkingv1.Ingress](t, r, "ihr").Spec.TLS = nil
	}, "without TLS"},
	{"one ingestion replica in production", "prod", "prod", func(t *testing.T, r *rendered) {
		get[appsv1.Deployment](t, r, "ingestion").Spec.Replicas = new(int32(1))
	}, "production runs at least 2"},
}

// TestChecksCatchMistakes makes each mistake on a freshly decoded overlay
// that passes the check, and requires the check to name it.
func TestChecksCatchMistakes(t *testing.T) {
	f := newFixture(t)
	for _, m := range mistakes {
		t.Run(m.name, func(t *testing.T) {
			i := slices.IndexFunc(overlays, func(o overlay) bool { return o.name == m.overlay })
			j := slices.IndexFunc(checks, func(c check) bool { return c.name == m.check })
			if i < 0 || j < 0 {
				t.Fatalf("no overlay %q or no check %q", m.overlay, m.check)
			}
			r, problems := f.decode(overlays[i])
			if len(problems) > 0 {
				t.Fatalf("decode: %v", problems)
			}
			if before := checks[j].run(r); len(before) > 0 {
				t.Fatalf("check %s fails before the mistake: %q", m.check, before)
			}
			m.make(t, r)
			after := checks[j].run(r)
			if !slices.ContainsFunc(after, func(p string) bool { return strings.Contains(p, m.want) }) {
				t.Errorf("check %s missed it: want a problem containing %q, got %q", m.check, m.want, after)
			}
		})
	}
}

// TestDecodeIsStrict: unknown fields, duplicate fields and unknown kinds fail.
func TestDecodeIsStrict(t *testing.T) {
	for name, doc := range map[string]string{
		"unknown field":   "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {selectr: {a: b}}\n",
		"duplicate field": "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nmetadata: {name: y}\n",
		"unknown kind":    "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: x}\n",
		"wrong version":   "apiVersion: autoscaling/v1\nkind: HorizontalPodAutoscaler\nmetadata: {name: x}\n",
		"wrong type":      "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {replicas: two}\n",
	} {
		if _, err := decodeObject([]byte(doc)); err == nil {
			t.Errorf("%s: decoded without an error", name)
		}
	}
	if _, err := decodeObject([]byte("apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {selector: {a: b}}\n")); err != nil {
		t.Errorf("a valid Service: %v", err)
	}
}

func get[T any](t *testing.T, r *rendered, name string) *T {
	t.Helper()
	x := find[T](r, name)
	if x == nil {
		var zero T
		t.Fatalf("no %T named %s", zero, name)
	}
	return x
}

// mainContainer is the first container of a workload.
func mainContainer(t *testing.T, r *rendered, kind, name string) *corev1.Container {
	t.Helper()
	for _, w := range r.workloads() {
		if w.kind == kind && w.name == name {
			return &w.spec.Containers[0]
		}
	}
	t.Fatalf("no %s/%s", kind, name)
	return nil
}

// generated finds a generated object by the name before its hash suffix.
func generated(t *testing.T, r *rendered, kind, prefix string) metav1.Object {
	t.Helper()
	for _, o := range r.objects {
		n := o.obj.GetName()
		if o.kind == kind && (n == prefix || strings.HasPrefix(n, prefix+"-") && !strings.Contains(n[len(prefix)+1:], "-")) {
			return o.obj
		}
	}
	t.Fatalf("no %s %s", kind, prefix)
	return nil
}

func configMap(t *testing.T, r *rendered, prefix string) *corev1.ConfigMap {
	t.Helper()
	return generated(t, r, "ConfigMap", prefix).(*corev1.ConfigMap)
}

func secret(t *testing.T, r *rendered, prefix string) *corev1.Secret {
	t.Helper()
	return generated(t, r, "Secret", prefix).(*corev1.Secret)
}

// envVar is a container's variable set by name.
func envVar(t *testing.T, c *corev1.Container, name string) *corev1.EnvVar {
	t.Helper()
	i := slices.IndexFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == name })
	if i < 0 {
		t.Fatalf("container %s sets no %s", c.Name, name)
	}
	return &c.Env[i]
}

func dropEnv(c *corev1.Container, name string) {
	c.Env = slices.DeleteFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == name })
}

func remove(t *testing.T, r *rendered, kind, name string) {
	t.Helper()
	n := len(r.objects)
	r.objects = slices.DeleteFunc(r.objects, func(o object) bool { return o.kind == kind && o.obj.GetName() == name })
	if len(r.objects) == n {
		t.Fatalf("no %s/%s to remove", kind, name)
	}
}
