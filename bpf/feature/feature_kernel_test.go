package feature_test

import (
	"os"
	"strings"
	"testing"

	"github.com/btool/btool/bpf/feature"
	"github.com/btool/btool/internal/testutil"
)

// TestKernelFeatures probes every feature on the running kernel and logs the
// answers. Inside a VM of the test matrix ($BTOOL_VM set) the answers must be
// exactly $BTOOL_EXPECT_FEATURES: a missing feature is a broken probe or a
// wrong expectation, and so is an unexpected one (vmtest.ExpectedFeatures must
// stay a measurement, or tests that RequireFeature skip where they should
// fail).
func TestKernelFeatures(t *testing.T) {
	testutil.RequireRoot(t)
	f, err := feature.NewFeatures()
	if err != nil {
		t.Fatal(err)
	}
	vm := os.Getenv("BTOOL_VM")
	for _, st := range f.Report() {
		if st.Err == nil {
			t.Logf("%-15s yes", st.Name)
		} else {
			t.Logf("%-15s no: %v", st.Name, st.Err)
		}
		if vm == "" {
			continue
		}
		switch expected := testutil.Expected(string(st.Name)); {
		case expected && st.Err != nil:
			t.Errorf("VM %s: feature %s is expected but the probe says: %v", vm, st.Name, st.Err)
		case !expected && st.Err == nil:
			t.Errorf("VM %s: feature %s is present but not expected: add it to vmtest.ExpectedFeatures[%q]", vm, st.Name, vm)
		}
	}
	if vm != "" {
		t.Logf("VM %s expects: %s", vm, strings.ReplaceAll(os.Getenv("BTOOL_EXPECT_FEATURES"), ",", " "))
	}
}
