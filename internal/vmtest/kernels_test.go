package vmtest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFindKernels(t *testing.T) {
	dir := t.TempDir()
	image := strings.Repeat("k", 8192) // big enough to be an image, not a name file
	for _, name := range []string{"vmlinuz-6.1.0-9-amd64", "vmlinuz-6.12.1+deb12-amd64"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(image), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("vmlinuz-6.1.0-9-amd64", filepath.Join(dir, "6.1")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "6.12"), []byte("vmlinuz-6.12.1+deb12-amd64\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	ks, err := FindKernels(dir, []string{"6.1", "6.12"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"6.1": "vmlinuz-6.1.0-9-amd64", "6.12": "vmlinuz-6.12.1+deb12-amd64"}
	for _, k := range ks {
		if have := filepath.Base(k.Path); have != want[k.Label] {
			t.Errorf("kernel %s = %s, want %s", k.Label, have, want[k.Label])
		}
		if len(k.Features) == 0 {
			t.Errorf("kernel %s has no expected features", k.Label)
		}
	}

	if _, err := FindKernels(dir, []string{"5.15"}); !errors.Is(err, ErrNoKernel) {
		t.Errorf("FindKernels(5.15) = %v, want ErrNoKernel", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "6.6"), []byte("vmlinuz-missing"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := FindKernels(dir, []string{"6.6"}); !errors.Is(err, ErrNoKernel) {
		t.Errorf("FindKernels(6.6 naming a missing image) = %v, want ErrNoKernel", err)
	}
}

func TestSelectedLabels(t *testing.T) {
	tests := []struct {
		env  string
		want string
	}{
		{"", "5.10 6.1 6.12"},
		{"6.12", "6.12"},
		{" 6.1 , 6.12 ", "6.1 6.12"},
	}
	for _, tt := range tests {
		t.Setenv("BTOOL_VM_KERNELS", tt.env)
		if have := strings.Join(SelectedLabels(), " "); have != tt.want {
			t.Errorf("BTOOL_VM_KERNELS=%q: SelectedLabels() = %q, want %q", tt.env, have, tt.want)
		}
	}
}

func TestExpectedFeatures(t *testing.T) {
	// Every label has a feature list, and each kernel expects everything the
	// older one before it in Labels does.
	for i, l := range Labels {
		if len(ExpectedFeatures[l]) == 0 {
			t.Errorf("no expected features for kernel %s", l)
		}
		if i == 0 {
			continue
		}
		newer := map[string]bool{}
		for _, f := range ExpectedFeatures[l] {
			newer[f] = true
		}
		for _, f := range ExpectedFeatures[Labels[i-1]] {
			if !newer[f] {
				t.Errorf("%s expects %s but %s does not", Labels[i-1], f, l)
			}
		}
	}
}
