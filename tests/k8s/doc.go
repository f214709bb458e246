// Package k8s checks the Kubernetes manifests in k8s/: it renders the base and
// every overlay with kustomize, decodes each object strictly into its
// Kubernetes API type, and checks what a cluster would only find out at run
// time (see k8s_test.go).
package k8s
