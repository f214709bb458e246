package k8s

import (
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// calls says whom each component talks to (docs/architecture.md and each
// service's configuration): the network policies must allow exactly that.
// "smtp" is outside the cluster; "postgresql" and "redis" are pods in dev and
// outside in prod; "ihrctl" is the CLI, run in the namespace by an operator.
var calls = map[string][]string{
	"gateway":     {"query", "auth", "ingestion", "nats", "redis"},
	"query":       {"postgresql", "redis", "nats", "auth"},
	"ingestion":   {"postgresql", "nats", "auth"},
	"auth":        {"postgresql", "nats", "smtp"},
	"cachewarmer": {"query", "nats", "redis", "auth"},
	"migrate":     {"postgresql"},
	"ihrctl":      {"nats", "postgresql"},
	"nats":        {"nats"}, // cluster routes
	"postgresql":  nil,
	"redis":       nil,
}

// outsidePorts are the ports of what a component may reach outside the cluster.
var outsidePorts = map[string][]int32{"postgresql": {5432}, "redis": {6379}, "smtp": {587, 465}}

// The only peers outside the namespace that may reach in: the ingress
// controller (to the gateway) and Prometheus (to the services' /metrics).
var (
	ingressController = networkingv1.NetworkPolicyPeer{
		NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "ingress-nginx"}},
		PodSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{nameLabel: "ingress-nginx"}},
	}
	prometheus = networkingv1.NetworkPolicyPeer{
		NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "monitoring"}},
		PodSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{nameLabel: "prometheus"}},
	}
	kubeDNS = map[string]string{"kubernetes.io/metadata.name": "kube-system"}
)

func (r *rendered) policies() []*networkingv1.NetworkPolicy {
	return all[networkingv1.NetworkPolicy](r)
}

func hasType(np *networkingv1.NetworkPolicy, t networkingv1.PolicyType) bool {
	if len(np.Spec.PolicyTypes) == 0 {
		return t == networkingv1.PolicyTypeIngress || len(np.Spec.Egress) > 0
	}
	return slices.Contains(np.Spec.PolicyTypes, t)
}

// components are the known components a pod selector picks.
func components(sel *metav1.LabelSelector) []string {
	var out []string
	for c := range calls {
		if selects(sel, map[string]string{nameLabel: c}) {
			out = append(out, c)
		}
	}
	sort.Strings(out)
	return out
}

// inNamespace reports whether a peer picks pods of the policy's own namespace only.
func inNamespace(p networkingv1.NetworkPolicyPeer) bool {
	return p.IPBlock == nil && p.NamespaceSelector == nil && p.PodSelector != nil
}

func isDNS(p networkingv1.NetworkPolicyPeer) bool {
	return p.NamespaceSelector != nil && selects(p.NamespaceSelector, kubeDNS) && p.IPBlock == nil
}

// portsMatch reports whether a rule's ports let port/proto through; named
// ports are resolved in the pod that owns them.
func portsMatch(ports []networkingv1.NetworkPolicyPort, port int32, proto corev1.Protocol, owner *corev1.PodSpec) bool {
	if len(ports) == 0 {
		return true
	}
	for _, p := range ports {
		pp := corev1.ProtocolTCP
		if p.Protocol != nil {
			pp = *p.Protocol
		}
		if pp != proto {
			continue
		}
		if p.Port == nil {
			return true
		}
		if p.Port.Type == intstr.String {
			if owner != nil {
				if cp, ok := podPort(owner, *p.Port); ok && cp.ContainerPort == port {
					return true
				}
			}
			continue
		}
		hi := p.Port.IntVal
		if p.EndPort != nil {
			hi = *p.EndPort
		}
		if port >= p.Port.IntVal && port <= hi {
			return true
		}
	}
	return false
}

func numericPorts(ports []networkingv1.NetworkPolicyPort) ([]int32, bool) {
	var out []int32
	for _, p := range ports {
		if p.Port == nil || p.Port.Type != intstr.Int || p.EndPort != nil {
			return nil, false
		}
		out = append(out, p.Port.IntVal)
	}
	return out, len(out) > 0
}

// rule is an ingress or egress rule: its ports, and its peers (sources or destinations).
type rule struct {
	ports []networkingv1.NetworkPolicyPort
	peers []networkingv1.NetworkPolicyPeer
}

// rules are the rules, in one direction, of the policies that select a pod;
// isolated says whether any policy selects it in that direction.
func (r *rendered) rules(t networkingv1.PolicyType, pod map[string]string) (rules []rule, isolated bool) {
	for _, np := range r.policies() {
		if !hasType(np, t) || !selects(&np.Spec.PodSelector, pod) {
			continue
		}
		isolated = true
		if t == networkingv1.PolicyTypeEgress {
			for _, e := range np.Spec.Egress {
				rules = append(rules, rule{e.Ports, e.To})
			}
		} else {
			for _, i := range np.Spec.Ingress {
				rules = append(rules, rule{i.Ports, i.From})
			}
		}
	}
	return rules, isolated
}

// admits reports whether a pod's rules let port/proto through to or from a
// peer that match accepts; a pod no policy isolates admits everything.
func admits(rules []rule, isolated bool, port int32, proto corev1.Protocol, owner *corev1.PodSpec, match func(networkingv1.NetworkPolicyPeer) bool) bool {
	if !isolated {
		return true
	}
	for _, ru := range rules {
		if portsMatch(ru.ports, port, proto, owner) && (len(ru.peers) == 0 || slices.ContainsFunc(ru.peers, match)) {
			return true
		}
	}
	return false
}

// podsOf accepts the peers that pick pods with these labels in the namespace.
func podsOf(lbls map[string]string) func(networkingv1.NetworkPolicyPeer) bool {
	return func(p networkingv1.NetworkPolicyPeer) bool { return inNamespace(p) && selects(p.PodSelector, lbls) }
}

// allows reports whether the policies let src open a TCP connection to dst's port:
// src's egress and dst's ingress.
func (r *rendered) allows(src, dst workload, port int32) bool {
	out, isolatedOut := r.rules(networkingv1.PolicyTypeEgress, src.labels)
	in, isolatedIn := r.rules(networkingv1.PolicyTypeIngress, dst.labels)
	return admits(out, isolatedOut, port, corev1.ProtocolTCP, dst.spec, podsOf(dst.labels)) &&
		admits(in, isolatedIn, port, corev1.ProtocolTCP, dst.spec, podsOf(src.labels))
}

// allowsOutside reports whether the policies let src reach an address
// outside the cluster on port (an ipBlock, or any destination).
func (r *rendered) allowsOutside(src workload, port int32, proto corev1.Protocol) bool {
	out, isolated := r.rules(networkingv1.PolicyTypeEgress, src.labels)
	return admits(out, isolated, port, proto, nil, func(p networkingv1.NetworkPolicyPeer) bool { return p.IPBlock != nil })
}

func (r *rendered) allowsDNS(src workload) bool {
	out, isolated := r.rules(networkingv1.PolicyTypeEgress, src.labels)
	return admits(out, isolated, 53, corev1.ProtocolUDP, nil, isDNS)
}

func checkDefaultDeny(r *rendered) []string {
	var problems []string
	deny := false
	for _, np := range r.policies() {
		if len(np.Spec.PodSelector.MatchLabels) == 0 && len(np.Spec.PodSelector.MatchExpressions) == 0 &&
			hasType(np, networkingv1.PolicyTypeIngress) && hasType(np, networkingv1.PolicyTypeEgress) &&
			len(np.Spec.Ingress) == 0 && len(np.Spec.Egress) == 0 {
			deny = true
		}
	}
	if !deny {
		problems = append(problems, "no default-deny NetworkPolicy (podSelector {}, policyTypes Ingress and Egress, no rules)")
	}
	for _, w := range r.workloads() {
		if !r.allowsDNS(w) {
			problems = append(problems, fmt.Sprintf("%s cannot reach DNS (kube-dns in kube-system, UDP 53): it would resolve no Service name", w.ref))
		}
		if _, known := calls[w.component]; !known {
			problems = append(problems, fmt.Sprintf("%s: component %q (label %s) is unknown to tests/k8s' table of who calls whom", w.ref, w.component, nameLabel))
		}
	}
	return problems
}

func checkOutside(r *rendered) []string {
	var problems []string
	for _, np := range r.policies() {
		if !hasType(np, networkingv1.PolicyTypeIngress) {
			continue
		}
		targets := components(&np.Spec.PodSelector)
		for i, rule := range np.Spec.Ingress {
			if len(rule.From) == 0 {
				problems = append(problems, fmt.Sprintf("NetworkPolicy/%s ingress rule %d lets anything, from anywhere, reach %v", np.Name, i, targets))
				continue
			}
			for _, p := range rule.From {
				if inNamespace(p) {
					continue
				}
				for _, t := range targets {
					ok := (t == "gateway" && reflect.DeepEqual(p, ingressController)) ||
						(slices.Contains(services, t) && reflect.DeepEqual(p, prometheus))
					if !ok {
						problems = append(problems, fmt.Sprintf("NetworkPolicy/%s lets traffic from outside the namespace (%s) reach %s: only the gateway takes any (from the ingress controller), and the services' /metrics (from Prometheus in monitoring)",
							np.Name, describePeer(p), t))
					}
				}
			}
		}
	}
	return problems
}

func describePeer(p networkingv1.NetworkPolicyPeer) string {
	var parts []string
	if p.IPBlock != nil {
		parts = append(parts, "ipBlock "+p.IPBlock.CIDR)
	}
	if p.NamespaceSelector != nil {
		parts = append(parts, "namespaces "+metav1.FormatLabelSelector(p.NamespaceSelector))
	}
	if p.PodSelector != nil {
		parts = append(parts, "pods "+metav1.FormatLabelSelector(p.PodSelector))
	}
	return strings.Join(parts, ", ")
}

func checkOnlyNeeds(r *rendered) []string {
	var problems []string
	for _, np := range r.policies() {
		bad := func(format string, args ...any) {
			problems = append(problems, "NetworkPolicy/"+np.Name+": "+fmt.Sprintf(format, args...))
		}
		srcs := components(&np.Spec.PodSelector)
		if len(srcs) == 0 {
			bad("selects no known component (%s)", metav1.FormatLabelSelector(&np.Spec.PodSelector))
			continue
		}
		if hasType(np, networkingv1.PolicyTypeEgress) {
			for i, rule := range np.Spec.Egress {
				if len(rule.To) == 0 {
					bad("egress rule %d lets %v reach anything", i, srcs)
				}
				if len(rule.Ports) == 0 {
					bad("egress rule %d allows every port", i)
				}
				for _, p := range rule.To {
					switch {
					case isDNS(p):
						if ports, ok := numericPorts(rule.Ports); !ok || slices.ContainsFunc(ports, func(n int32) bool { return n != 53 }) {
							bad("egress rule %d reaches kube-system on ports other than DNS (53)", i)
						}
					case p.IPBlock != nil:
						ports, ok := numericPorts(rule.Ports)
						if !ok {
							bad("egress rule %d lets %v reach %s on any port", i, srcs, p.IPBlock.CIDR)
							continue
						}
						for _, s := range srcs {
							for _, port := range ports {
								if !slices.ContainsFunc(calls[s], func(t string) bool { return slices.Contains(outsidePorts[t], port) }) {
									bad("lets %s reach %s on port %d; it calls nothing outside the cluster there (it calls %v)", s, p.IPBlock.CIDR, port, calls[s])
								}
							}
						}
					case !inNamespace(p):
						bad("egress rule %d lets %v reach another namespace (%s)", i, srcs, describePeer(p))
					default:
						dsts := components(p.PodSelector)
						if len(dsts) == 0 {
							bad("egress rule %d names no known component (%s)", i, describePeer(p))
						}
						problems = append(problems, uncalled("NetworkPolicy/"+np.Name, srcs, dsts)...)
					}
				}
			}
		}
		if hasType(np, networkingv1.PolicyTypeIngress) {
			for i, rule := range np.Spec.Ingress {
				if len(rule.Ports) == 0 {
					bad("ingress rule %d allows every port", i)
				}
				for _, p := range rule.From {
					if !inNamespace(p) {
						continue // checkOutside
					}
					froms := components(p.PodSelector)
					if len(froms) == 0 {
						bad("ingress rule %d admits no known component (%s)", i, describePeer(p))
					}
					problems = append(problems, uncalled("NetworkPolicy/"+np.Name, froms, srcs)...)
				}
			}
		}
	}
	return problems
}

// uncalled names the pairs a policy lets through that the table of calls does not have.
func uncalled(policy string, froms, tos []string) []string {
	var problems []string
	for _, f := range froms {
		for _, t := range tos {
			if !slices.Contains(calls[f], t) {
				problems = append(problems, fmt.Sprintf("%s: lets %s reach %s, which it does not call (it calls %v)", policy, f, t, calls[f]))
			}
		}
	}
	return problems
}

func checkReachesNeeds(r *rendered) []string {
	var problems []string
	ws := r.workloads()
	for _, src := range ws {
		for _, t := range calls[src.component] {
			if t == src.component {
				continue // NATS' routes: checkNATS
			}
			var dsts []workload
			for _, d := range ws {
				if d.component == t {
					dsts = append(dsts, d)
				}
			}
			if len(dsts) == 0 {
				ports, outside := outsidePorts[t]
				if !outside {
					problems = append(problems, fmt.Sprintf("%s calls %s, which is neither in the output nor outside the cluster", src.ref, t))
					continue
				}
				if !slices.ContainsFunc(ports, func(p int32) bool { return r.allowsOutside(src, p, corev1.ProtocolTCP) }) {
					problems = append(problems, fmt.Sprintf("%s calls %s, outside the cluster here, but no NetworkPolicy lets it reach port %v", src.ref, t, ports))
				}
				continue
			}
			for _, d := range dsts {
				reached := false
				for _, c := range containers(d.spec) {
					for _, cp := range c.Ports {
						reached = reached || r.allows(src, d, cp.ContainerPort)
					}
				}
				if !reached {
					problems = append(problems, fmt.Sprintf("NetworkPolicies keep %s from %s, which it calls", src.ref, d.ref))
				}
			}
		}
	}
	return problems
}

// checkURLs resolves every URL our containers are given: in-cluster hosts
// must be Services of the output, on one of their ports, and the network
// policies must let the container reach the pods behind them.
func checkURLs(r *rendered) []string {
	var problems []string
	ws := r.workloads()
	for _, src := range ws {
		for _, c := range containers(src.spec) {
			if prog, _ := ours(c.Image); prog == "" {
				continue
			}
			for name, v := range r.containerEnv(c) {
				if !v.known || !strings.Contains(v.value, "://") {
					continue
				}
				bad := func(format string, args ...any) {
					problems = append(problems, fmt.Sprintf("%s container %s: %s (from %s): ", src.ref, c.Name, name, v.from)+fmt.Sprintf(format, args...))
				}
				target, internal, err := inCluster(v.value)
				if err != nil {
					bad("%v", err)
					continue
				}
				if !internal {
					continue
				}
				svc := find[corev1.Service](r, target.service)
				if svc == nil {
					bad("names host %q, which is no Service in the output", target.service)
					continue
				}
				var sp *corev1.ServicePort
				for i := range svc.Spec.Ports {
					if svc.Spec.Ports[i].Port == target.port {
						sp = &svc.Spec.Ports[i]
					}
				}
				if sp == nil {
					bad("port %d is not a port of Service %s", target.port, svc.Name)
					continue
				}
				tp := sp.TargetPort
				if tp.Type == intstr.Int && tp.IntVal == 0 {
					tp = intstr.FromInt32(sp.Port)
				}
				for _, d := range r.matching(&metav1.LabelSelector{MatchLabels: svc.Spec.Selector}) {
					cp, ok := podPort(d.spec, tp)
					if !ok {
						continue // checkServices
					}
					if !r.allows(src, d, cp.ContainerPort) {
						bad("NetworkPolicies block %s -> %s port %d (Service %s)", src.ref, d.ref, cp.ContainerPort, svc.Name)
					}
				}
			}
		}
	}
	return problems
}

var (
	natsRoute      = regexp.MustCompile(`nats-route://([A-Za-z0-9.-]+):([0-9]+)|nats://([A-Za-z0-9.-]+):([0-9]+)`)
	natsRoutes     = regexp.MustCompile(`(?s)routes\s*[:=]?\s*\[(.*?)\]`)
	natsServerName = regexp.MustCompile(`(?m)^\s*server_name\s*[:=]\s*(\S+)`)
	natsStoreDir   = regexp.MustCompile(`(?m)^\s*store_dir\s*[:=]\s*"?([^"\s]+)"?`)
)

// checkNATS: the services keep as many copies of each stream as the servers
// can hold; a NATS cluster's StatefulSet has what its servers need to find
// each other and keep their data.
func checkNATS(r *rendered) []string {
	var problems []string
	servers := int32(0)
	var clusters []workload
	for _, w := range r.workloads() {
		if w.component != "nats" {
			continue
		}
		servers += r.count(w)
		if w.sts != nil && r.count(w) > 1 {
			clusters = append(clusters, w)
		}
	}
	if servers == 0 {
		return []string{"no NATS server (pods labelled " + nameLabel + "=nats)"}
	}
	want := min(servers, 3)
	for _, w := range r.workloads() {
		for _, c := range containers(w.spec) {
			if prog, _ := ours(c.Image); prog == "" || prog == "migrate" {
				continue
			}
			v, ok := r.containerEnv(c)["IHR_NATS_REPLICAS"]
			n := 1
			if ok && v.known && v.value != "" {
				var err error
				if n, err = strconv.Atoi(v.value); err != nil {
					problems = append(problems, fmt.Sprintf("%s container %s: IHR_NATS_REPLICAS=%q", w.ref, c.Name, v.value))
					continue
				}
			}
			if int32(n) != want {
				problems = append(problems, fmt.Sprintf("%s container %s: IHR_NATS_REPLICAS is %d with %d NATS server(s): want %d (every stream on min(servers, 3))", w.ref, c.Name, n, servers, want))
			}
		}
	}
	for _, w := range clusters {
		problems = append(problems, r.checkNATSCluster(w)...)
	}
	return problems
}

func (r *rendered) checkNATSCluster(w workload) []string {
	var problems []string
	bad := func(format string, args ...any) {
		problems = append(problems, w.ref+": "+fmt.Sprintf(format, args...))
	}
	sts := w.sts
	if sts.Spec.PodManagementPolicy != "Parallel" {
		bad("podManagementPolicy must be Parallel: with OrderedReady the first server waits for a quorum the others, not started, would give")
	}
	headless := find[corev1.Service](r, sts.Spec.ServiceName)
	if headless != nil && !headless.Spec.PublishNotReadyAddresses {
		bad("headless Service %s must publish not-ready addresses: the servers must find each other before any is ready", headless.Name)
	}
	if len(sts.Spec.VolumeClaimTemplates) == 0 {
		bad("no volumeClaimTemplates: JetStream's store would be lost with the pod")
	}
	c := &sts.Spec.Template.Spec.Containers[0]
	i := slices.IndexFunc(c.Args, func(a string) bool { return a == "--config" || a == "-c" })
	if i < 0 || i+1 >= len(c.Args) {
		bad("container %s is given no --config", c.Name)
		return problems
	}
	path := c.Args[i+1]
	conf, err := r.mountedFile(sts.Spec.Template.Spec, c, path)
	if err != nil {
		bad("--config %s: %v", path, err)
		return problems
	}
	clusterPort, ok := containerPort(c, intstr.FromString("cluster"))
	if !ok {
		bad("container %s has no port named cluster (the routes)", c.Name)
		return problems
	}
	var got []string
	if m := natsRoutes.FindStringSubmatch(conf); m != nil {
		for _, rm := range natsRoute.FindAllStringSubmatch(m[1], -1) {
			host, port := rm[1]+rm[3], rm[2]+rm[4]
			got = append(got, host+":"+port)
		}
	}
	var want []string
	for n := range r.count(w) {
		want = append(want, fmt.Sprintf("%s-%d.%s:%d", sts.Name, n, sts.Spec.ServiceName, clusterPort.ContainerPort))
	}
	sort.Strings(got)
	if !slices.Equal(got, want) {
		bad("cluster routes %v, want one per server %v", got, want)
	}
	if m := natsServerName.FindStringSubmatch(conf); m == nil {
		bad("no server_name: JetStream clusters need a unique, stable one per server")
	} else if strings.HasPrefix(m[1], "$") {
		name := strings.TrimPrefix(m[1], "$")
		i := slices.IndexFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == name })
		if i < 0 || c.Env[i].ValueFrom == nil || c.Env[i].ValueFrom.FieldRef == nil || c.Env[i].ValueFrom.FieldRef.FieldPath != "metadata.name" {
			bad("server_name is $%s: set %s from the pod's metadata.name", name, name)
		}
	}
	if m := natsStoreDir.FindStringSubmatch(conf); m == nil {
		bad("no jetstream store_dir")
	} else if !slices.ContainsFunc(c.VolumeMounts, func(vm corev1.VolumeMount) bool {
		return vm.MountPath == m[1] && slices.ContainsFunc(sts.Spec.VolumeClaimTemplates, func(p corev1.PersistentVolumeClaim) bool { return p.Name == vm.Name })
	}) {
		bad("store_dir %s is not on a volume of the volumeClaimTemplates", m[1])
	}
	if !r.allows(w, w, clusterPort.ContainerPort) {
		bad("NetworkPolicies keep the servers from each other's cluster port %d", clusterPort.ContainerPort)
	}
	return problems
}

// mountedFile reads a file a container sees through a ConfigMap volume.
func (r *rendered) mountedFile(p corev1.PodSpec, c *corev1.Container, path string) (string, error) {
	for _, m := range c.VolumeMounts {
		rel, ok := strings.CutPrefix(path, strings.TrimSuffix(m.MountPath, "/")+"/")
		if !ok {
			continue
		}
		for _, v := range p.Volumes {
			if v.Name != m.Name || v.ConfigMap == nil {
				continue
			}
			cm := find[corev1.ConfigMap](r, v.ConfigMap.Name)
			if cm == nil {
				return "", fmt.Errorf("ConfigMap %s is not in the output", v.ConfigMap.Name)
			}
			key := rel
			for _, it := range v.ConfigMap.Items {
				if it.Path == rel {
					key = it.Key
				}
			}
			data, ok := cm.Data[key]
			if !ok {
				return "", fmt.Errorf("ConfigMap %s has no key %s", cm.Name, key)
			}
			return data, nil
		}
	}
	return "", fmt.Errorf("no ConfigMap volume is mounted there")
}
