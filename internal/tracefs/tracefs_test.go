package tracefs

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/btool/btool/internal/testutil"
)

func TestParseFormat(t *testing.T) {
	common := []Field{
		{Name: "common_type", Type: "unsigned short", Offset: 0, Size: 2, Common: true, ArrayLen: -1},
		{Name: "common_flags", Type: "unsigned char", Offset: 2, Size: 1, Common: true, ArrayLen: -1},
		{Name: "common_preempt_count", Type: "unsigned char", Offset: 3, Size: 1, Common: true, ArrayLen: -1},
		{Name: "common_pid", Type: "int", Offset: 4, Size: 4, Signed: true, Common: true, ArrayLen: -1},
	}
	tests := []struct {
		file string
		name string
		id   uint32
		want []Field // event fields after the common ones
	}{
		{"sched_sched_switch.format", "sched_switch", 372, []Field{
			{Name: "prev_comm", Type: "char[16]", Offset: 8, Size: 16, ArrayLen: 16},
			{Name: "prev_pid", Type: "pid_t", Offset: 24, Size: 4, Signed: true, ArrayLen: -1},
			{Name: "prev_prio", Type: "int", Offset: 28, Size: 4, Signed: true, ArrayLen: -1},
			{Name: "prev_state", Type: "long", Offset: 32, Size: 8, Signed: true, ArrayLen: -1},
			{Name: "next_comm", Type: "char[16]", Offset: 40, Size: 16, ArrayLen: 16},
			{Name: "next_pid", Type: "pid_t", Offset: 56, Size: 4, Signed: true, ArrayLen: -1},
			{Name: "next_prio", Type: "int", Offset: 60, Size: 4, Signed: true, ArrayLen: -1},
		}},
		{"syscalls_sys_enter_openat.format", "sys_enter_openat", 782, []Field{
			{Name: "__syscall_nr", Type: "int", Offset: 8, Size: 4, Signed: true, ArrayLen: -1},
			{Name: "dfd", Type: "int", Offset: 16, Size: 8, ArrayLen: -1},
			{Name: "filename", Type: "const char *", Offset: 24, Size: 8, ArrayLen: -1},
			{Name: "flags", Type: "int", Offset: 32, Size: 8, ArrayLen: -1},
			{Name: "mode", Type: "umode_t", Offset: 40, Size: 8, ArrayLen: -1},
		}},
		{"block_block_rq_complete.format", "block_rq_complete", 2107, []Field{
			{Name: "dev", Type: "dev_t", Offset: 8, Size: 4, ArrayLen: -1},
			{Name: "sector", Type: "sector_t", Offset: 16, Size: 8, ArrayLen: -1},
			{Name: "nr_sector", Type: "unsigned int", Offset: 24, Size: 4, ArrayLen: -1},
			{Name: "error", Type: "int", Offset: 28, Size: 4, Signed: true, ArrayLen: -1},
			{Name: "ioprio", Type: "unsigned short", Offset: 32, Size: 2, ArrayLen: -1},
			{Name: "rwbs", Type: "char[10]", Offset: 34, Size: 10, ArrayLen: 10},
			{Name: "cmd", Type: "__data_loc char[]", Offset: 44, Size: 4, ArrayLen: 0, DataLoc: true},
		}},
		{"ipi_ipi_send_cpumask.format", "ipi_send_cpumask", 0, []Field{
			{Name: "cpumask", Type: "__data_loc cpumask_t", Offset: 8, Size: 4, ArrayLen: 0, DataLoc: true},
			{Name: "callsite", Type: "void *", Offset: 16, Size: 8, ArrayLen: -1},
			{Name: "callback", Type: "void *", Offset: 24, Size: 8, ArrayLen: -1},
		}},
		{"dma_dma_map_sg.format", "dma_map_sg", 0, []Field{
			{Name: "device", Type: "__data_loc char[]", Offset: 8, Size: 4, ArrayLen: 0, DataLoc: true},
			{Name: "full_nents", Type: "int", Offset: 12, Size: 4, Signed: true, ArrayLen: -1},
			{Name: "full_ents", Type: "int", Offset: 16, Size: 4, Signed: true, ArrayLen: -1},
			{Name: "truncated", Type: "bool", Offset: 20, Size: 1, ArrayLen: -1},
			{Name: "phys_addrs", Type: "__data_loc u64[]", Offset: 24, Size: 4, ArrayLen: 0, DataLoc: true},
			{Name: "dma_addrs", Type: "__data_loc u64[]", Offset: 28, Size: 4, ArrayLen: 0, DataLoc: true},
			{Name: "lengths", Type: "__data_loc unsigned int[]", Offset: 32, Size: 4, ArrayLen: 0, DataLoc: true},
			{Name: "dir", Type: "enum dma_data_direction", Offset: 36, Size: 4, ArrayLen: -1},
			{Name: "attrs", Type: "unsigned long", Offset: 40, Size: 8, ArrayLen: -1},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data, err := os.ReadFile("testdata/" + tt.file)
			if err != nil {
				t.Fatal(err)
			}
			have, err := ParseFormat(string(data))
			if err != nil {
				t.Fatal(err)
			}
			if have.Name != tt.name {
				t.Errorf("name: have %q, want %q", have.Name, tt.name)
			}
			if tt.id != 0 && have.ID != tt.id {
				t.Errorf("ID: have %d, want %d", have.ID, tt.id)
			}
			want := append(append([]Field{}, common...), tt.want...)
			if len(have.Fields) != len(want) {
				t.Fatalf("have %d fields, want %d: %+v", len(have.Fields), len(want), have.Fields)
			}
			for i := range want {
				if !reflect.DeepEqual(have.Fields[i], want[i]) {
					t.Errorf("field %d:\nhave %+v\nwant %+v", i, have.Fields[i], want[i])
				}
			}
		})
	}
}

func TestParseField(t *testing.T) {
	tests := []struct {
		have string
		want Field
	}{
		{"field:const char __user * filename;\toffset:24;\tsize:8;\tsigned:0;",
			Field{Name: "filename", Type: "const char *", Offset: 24, Size: 8, ArrayLen: -1, User: true}},
		{"field:unsigned long caller[8];\toffset:8;\tsize:64;\tsigned:0;",
			Field{Name: "caller", Type: "unsigned long[8]", Offset: 8, Size: 64, ArrayLen: 8}},
		{"field:char buf[];\toffset:16;\tsize:0;\tsigned:1;",
			Field{Name: "buf", Type: "char[]", Offset: 16, Size: 0, Signed: true, ArrayLen: 0}},
		{"field:__rel_loc char[] name;\toffset:8;\tsize:4;\tsigned:0;",
			Field{Name: "name", Type: "__rel_loc char[]", Offset: 8, Size: 4, ArrayLen: 0, RelLoc: true}},
		{"field:struct iocb * * iocbpp;\toffset:32;\tsize:8;\tsigned:0;",
			Field{Name: "iocbpp", Type: "struct iocb * *", Offset: 32, Size: 8, ArrayLen: -1}},
		{"field:const void*ptr;\toffset:8;\tsize:8;\tsigned:0;",
			Field{Name: "ptr", Type: "const void*", Offset: 8, Size: 8, ArrayLen: -1}},
		{"field:int x;\toffset:8;\tsize:4;", // pre-2.6.32: no signed:
			Field{Name: "x", Type: "int", Offset: 8, Size: 4, ArrayLen: -1}},
	}
	for _, tt := range tests {
		have, err := parseField(tt.have)
		if err != nil {
			t.Errorf("%q: %v", tt.have, err)
			continue
		}
		if !reflect.DeepEqual(have, tt.want) {
			t.Errorf("%q:\nhave %+v\nwant %+v", tt.have, have, tt.want)
		}
	}
	for _, bad := range []string{
		"field:;\toffset:8;\tsize:4;",
		"field:int;\toffset:8;\tsize:4;",
		"field:int x;\tsize:4;",
		"field:int x;\toffset:z;\tsize:4;",
		"field:int x];\toffset:8;\tsize:4;",
	} {
		if _, err := parseField(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	if _, err := ParseFormat("name: x\nformat:\n"); err == nil {
		t.Error("format without ID: no error")
	}
}

func TestParseFilterFunctions(t *testing.T) {
	have := parseFilterFunctions([]byte("vfs_read\nfoo [ext4]\n\nbar\t[xfs]\nvfs_read\nlast"))
	want := []FilterFunc{{"vfs_read", ""}, {"foo", "ext4"}, {"bar", "xfs"}, {"vfs_read", ""}, {"last", ""}}
	if !reflect.DeepEqual(have, want) {
		t.Errorf("have %v, want %v", have, want)
	}
}

func TestParseBlacklist(t *testing.T) {
	have := parseBlacklist([]byte("0xffffffff81000000-0xffffffff81000010\tasm_exc_page_fault\n" +
		"0xffffffffc0000000-0xffffffffc0000040\tfoo_mod_fn [foo]\n\n"))
	want := map[string]bool{"asm_exc_page_fault": true, "foo_mod_fn": true}
	if !reflect.DeepEqual(have, want) {
		t.Errorf("have %v, want %v", have, want)
	}
	m, err := readBlacklist("testdata/no-such-blacklist")
	if m == nil || len(m) != 0 || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing blacklist: have %v, %v", m, err)
	}
}

func TestParseEvents(t *testing.T) {
	have := parseEvents([]byte("syscalls:sys_enter_read\nsched:sched_switch\nbogus\nsched:sched_wakeup\n"))
	want := []Event{{"sched", "sched_switch"}, {"sched", "sched_wakeup"}, {"syscalls", "sys_enter_read"}}
	if !reflect.DeepEqual(have, want) {
		t.Errorf("have %v, want %v", have, want)
	}
	if s := want[0].String(); s != "sched:sched_switch" {
		t.Errorf("String: %q", s)
	}
}

func TestReadFormatBadName(t *testing.T) {
	for _, ev := range [][2]string{{"..", "x"}, {"sched", "../../x"}, {"", "x"}} {
		_, err := ReadFormat(ev[0], ev[1])
		if !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%q: have %v, want ErrNotExist", ev, err)
		}
	}
}

func TestKernelTracefs(t *testing.T) {
	testutil.RequireRoot(t)
	root, err := Root()
	if err != nil {
		t.Fatal(err)
	}
	t.Log("tracefs at", root)

	f, err := ReadFormat("sched", "sched_switch")
	if err != nil {
		t.Fatal(err)
	}
	if f.ID == 0 || f.Field("prev_pid") == nil || f.Field("next_comm") == nil || f.Field("common_pid") == nil {
		t.Errorf("sched_switch: %+v", f)
	}
	if fld := f.Field("next_comm"); fld != nil && (fld.ArrayLen != 16 || fld.Type != "char[16]") {
		t.Errorf("next_comm: %+v", fld)
	}

	_, err = ReadFormat("sched", "no_such_event")
	if !errors.Is(err, os.ErrNotExist) || err.Error() != "tracepoint sched:no_such_event not found" {
		t.Errorf("unknown event: have %v", err)
	}

	evs, err := Events()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range evs {
		if e == (Event{"sched", "sched_switch"}) {
			found = true
		}
	}
	if !found {
		t.Errorf("Events (%d) lacks sched:sched_switch", len(evs))
	}

	ffs, err := AvailableFilterFunctions()
	switch {
	case errors.Is(err, os.ErrPermission):
		t.Logf("available_filter_functions not readable here: %v", err)
	case err != nil:
		t.Errorf("AvailableFilterFunctions: %v", err)
	case len(ffs) == 0:
		t.Error("AvailableFilterFunctions: empty")
	default:
		found := false
		for _, f := range ffs {
			if f.Name == "vfs_read" {
				found = true
			}
		}
		if !found {
			t.Error("available_filter_functions lacks vfs_read")
		}
	}

	bl, err := KprobeBlacklist()
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Errorf("KprobeBlacklist: error %v does not wrap ErrNotExist", err)
	}
	if bl == nil {
		t.Error("KprobeBlacklist returned a nil map")
	}
	t.Logf("blacklist: %d entries, err %v", len(bl), err)
}

func BenchmarkParseFilterFunctions(b *testing.B) {
	// A synthetic 70k-line file shaped like the real one.
	var sb strings.Builder
	for i := range 70000 {
		sb.WriteString("some_kernel_function_name_")
		sb.WriteString(strings.Repeat("x", i%13))
		if i%10 == 0 {
			sb.WriteString(" [ext4]")
		}
		sb.WriteByte('\n')
	}
	data := []byte(sb.String())
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		parseFilterFunctions(data)
	}
}
