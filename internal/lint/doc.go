// Package lint holds repository checks that go vet does not make: the
// import DAG of btool's packages (see the README's Layout section).
package lint
