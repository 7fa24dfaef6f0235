package flamegraph

import (
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

func TestParseFolded(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Stack
		err  string // substring of the error; "" means success
	}{
		{"empty input", "", nil, ""},
		{"blank lines only", "\n  \n\t\r\n", nil, ""},
		{"one stack", "a;b;c 123\n", []Stack{{[]string{"a", "b", "c"}, 123}}, ""},
		{"no final newline", "a;b 1", []Stack{{[]string{"a", "b"}, 1}}, ""},
		{"CRLF and trailing blanks", "a;b 7 \r\n", []Stack{{[]string{"a", "b"}, 7}}, ""},
		{"blank lines between", "a 1\n\n\nb 2\n", []Stack{{[]string{"a"}, 1}, {[]string{"b"}, 2}}, ""},
		{"spaces in frames", "my prog;operator new(unsigned long);std::vector<int, std::allocator<int> >::push_back 9\n",
			[]Stack{{[]string{"my prog", "operator new(unsigned long)", "std::vector<int, std::allocator<int> >::push_back"}, 9}}, ""},
		{"tab before the count", "a;b\t5\n", []Stack{{[]string{"a", "b"}, 5}}, ""},
		{"several blanks before the count", "a;b   5\n", []Stack{{[]string{"a", "b"}, 5}}, ""},
		{"delimiter kept", "comm;main;-;do_syscall_64 3\n", []Stack{{[]string{"comm", "main", "-", "do_syscall_64"}, 3}}, ""},
		{"empty frames kept", "a;;b; 2\n", []Stack{{[]string{"a", "", "b", ""}, 2}}, ""},
		{"zero count", "a 0\n", []Stack{{[]string{"a"}, 0}}, ""},
		{"largest count", "a 18446744073709551615\n", []Stack{{[]string{"a"}, 1<<64 - 1}}, ""},
		{"duplicates kept apart", "a 1\na 2\n", []Stack{{[]string{"a"}, 1}, {[]string{"a"}, 2}}, ""},
		{"bytes kept", "\xff\x01<&> 4\n", []Stack{{[]string{"\xff\x01<&>"}, 4}}, ""},

		{"missing count", "a;b;c\n", nil, `line 1: no count after the frames`},
		{"count only", "a 1\n123\n", nil, `line 2: no count after the frames`},
		{"no frames", "  5\n", nil, `line 1: no frames before the count`},
		{"bad count", "a 1\nb 2\na;b x12\n", nil, `line 3: count "x12" is not an unsigned decimal integer`},
		{"negative count", "a -1\n", nil, `line 1: count "-1" is not an unsigned decimal integer`},
		{"float count", "a 1.5\n", nil, `count "1.5" is not an unsigned decimal integer`},
		{"plus sign", "a +1\n", nil, `count "+1" is not an unsigned decimal integer`},
		{"hex count", "a 0x10\n", nil, `count "0x10" is not an unsigned decimal integer`},
		{"count too big", "a 18446744073709551616\n", nil, `line 1: count "18446744073709551616" does not fit in 64 bits`},
		{"frame with space, no count", "a;b c\n", nil, `line 1: count "c" is not an unsigned decimal integer`},
		{"long bad count clipped", "a " + strings.Repeat("z", 100) + "\n", nil, `count "` + strings.Repeat("z", 40) + `..."`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			have, err := ParseFolded(strings.NewReader(tt.in))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error: have %v, want one containing %q", err, tt.err)
				}
				if strings.Contains(err.Error(), "\n") {
					t.Errorf("error spans lines: %q", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(have, tt.want) {
				t.Errorf("have %#v, want %#v", have, tt.want)
			}
		})
	}
}

// TestParseFoldedLongLine checks that lines longer than any buffer parse:
// a 255-frame stack of long C++ names is about 100 KiB.
func TestParseFoldedLongLine(t *testing.T) {
	frames := make([]string, 255)
	for i := range frames {
		frames[i] = strings.Repeat("n", 400)
	}
	have, err := ParseFolded(strings.NewReader(strings.Join(frames, ";") + " 3\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(have) != 1 || len(have[0].Frames) != 255 || have[0].Count != 3 {
		t.Errorf("have %d stacks, want one of 255 frames and count 3", len(have))
	}
}

func TestParseFoldedReadError(t *testing.T) {
	boom := errors.New("boom")
	r := io.MultiReader(strings.NewReader("a 1\nb 2\n"), iotest.ErrReader(boom))
	_, err := ParseFolded(r)
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "line 3") {
		t.Errorf("have %v, want boom at line 3", err)
	}
}
