package multitool

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/btool/btool/bpf/feature"
	"github.com/btool/btool/dwarfinfo"
	"github.com/btool/btool/specparse"
)

// countingSources counts the binaries SystemSources opens.
type countingSources struct {
	SystemSources
	opens int
}

func (s *countingSources) OpenBinary(lib string) (Binary, error) {
	s.opens++
	return s.SystemSources.OpenBinary(lib)
}

// TestPlannerOpensBinaryOnce plans probes that name one binary in three
// spellings (a path, a symlink to it, the same path again) and checks that
// they share one open file, that targets attach through it
// (/proc/self/fd/N of that file) and still show the path the probe named.
func TestPlannerOpensBinaryOnce(t *testing.T) {
	exe, err := dwarfinfo.FindBinary("c")
	if err != nil {
		t.Skipf("no libc: %v", err)
	}
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(exe, link); err != nil {
		t.Fatal(err)
	}
	src := &countingSources{}
	pl := &Planner{Src: src, Features: feature.NewFakeFeatures(allFeatures...), Contexts: true}
	defer pl.Close()
	var files []string
	for _, lib := range []string{exe, link, exe} {
		spec := lib + `:malloc "x"`
		p, err := specparse.ParseTrace(spec)
		if err != nil {
			t.Fatal(err)
		}
		h, err := HeadOfProbe(p, spec)
		if err != nil {
			t.Fatal(err)
		}
		plan, err := pl.Plan(h)
		if err != nil {
			t.Fatalf("plan %q: %v", spec, err)
		}
		tg := plan.Targets[0]
		if tg.Path != exe || !strings.HasPrefix(tg.File, "/proc/self/fd/") {
			t.Errorf("%s: target path %q, file %q; want %q and a /proc/self/fd link", lib, tg.Path, tg.File, exe)
		}
		files = append(files, tg.File)
	}
	if len(pl.opened) != 1 || files[0] != files[1] || files[1] != files[2] {
		t.Errorf("%d binaries kept open, attach files %q; want one", len(pl.opened), files)
	}
	if src.opens != 2 { // the symlink is opened (to learn it is the same file) and closed
		t.Errorf("%d opens, want 2", src.opens)
	}
	if _, err := os.Stat(files[0]); err != nil {
		t.Errorf("attach file: %v", err)
	}
	pl.Close()
}
