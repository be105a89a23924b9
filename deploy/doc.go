// Package deploy holds the production stack's files (docker-compose.yml at the repository root; here the
// Prometheus scrape configuration and alert rules, the Grafana dashboard and its provisioning, the
// OpenTelemetry collector's configuration, Temporal's dynamic configuration and the example environment) and
// the tests that hold them to the code: the compose file's wiring, and every dashboard and alert query naming
// only metrics the worker exports.
package deploy
