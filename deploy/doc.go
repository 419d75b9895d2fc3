// Package deploy holds static tests for the deployment artefacts of Portcullis:
// the container images (deploy/docker), the Helm chart (deploy/helm/portcullis) and
// the docker-compose.yml at the repository root. None of them can run on the build
// machine (no Docker, no Kubernetes), so these tests parse and render them instead.
package deploy
