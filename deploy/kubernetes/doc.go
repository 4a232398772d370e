// Package kubernetes holds the portal's Kubernetes manifests (a
// Deployment of two replicas on PostgreSQL, its Service, ConfigMap, Secret
// template and PodDisruptionBudget, and a kustomization that applies
// them) and the test that checks them: every document decodes strictly
// into the Kubernetes API types, so a misspelt field fails, and the
// settings they name are the portal's own. The package has no code; apply
// the directory with `kubectl apply -k deploy/kubernetes`.
package kubernetes
