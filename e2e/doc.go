// Package e2e holds the end-to-end tests and benchmarks: the real worker wiring (service.Worker) against an
// embedded Temporal server and both simulators over HTTP. It has no code of its own; run it with
// `go test ./e2e/` (and `go test -run '^$' -bench Reconcile10k ./e2e/` for the 10,000-user benchmark).
package e2e
