// Package access is the contract between the access workflows and the activities that talk to Salto KS and
// Nexudus: the domain types both sides exchange, the names activities, signals and queries are registered
// under, the search attributes shown in the Web UI, and the errors that mark a failure as final.
//
// It imports no client and no workflow code, so the workflows package and the activities package can both
// depend on it without depending on each other.
package access
