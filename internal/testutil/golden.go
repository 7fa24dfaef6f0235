package testutil

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
)

// Golden compares got with the file testdata/path of the test's package,
// or, when the test binary runs with -update, rewrites that file. The
// -update flag is the package's own (each test package defines it: a
// flag defined here would clash with theirs); without one, Golden only
// compares.
func Golden(t testing.TB, path, got string) {
	t.Helper()
	path = filepath.Join("testdata", path)
	if f := flag.Lookup("update"); f != nil && f.Value.String() == "true" {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (run go test -update to accept):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}
