package flamegraph_test

import (
	"fmt"
	"strings"

	"github.com/btool/btool/internal/flamegraph"
)

func ExampleParseFolded() {
	folded := "bash;main;readline;-;entry_SYSCALL_64;do_syscall_64 30\n" +
		"my prog;operator new(unsigned long) 9\n"
	stacks, err := flamegraph.ParseFolded(strings.NewReader(folded))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range stacks {
		fmt.Printf("%d %q\n", s.Count, s.Frames)
	}
	_, err = flamegraph.ParseFolded(strings.NewReader("a;b 1\na;b many\n"))
	fmt.Println(err)
	// Output:
	// 30 ["bash" "main" "readline" "-" "entry_SYSCALL_64" "do_syscall_64"]
	// 9 ["my prog" "operator new(unsigned long)"]
	// flamegraph: folded stacks: line 2: count "many" is not an unsigned decimal integer
}

func ExampleWrite() {
	stacks := []flamegraph.Stack{
		{Frames: []string{"sleepy", "main", "-", "do_nanosleep"}, Count: 1500000},
		{Frames: []string{"sleepy", "main", "runtime.gopark"}, Count: 500000},
	}
	// Off-CPU time in microseconds, as offcputime -f prints it.
	var svg strings.Builder
	if err := flamegraph.Write(&svg, stacks, flamegraph.Options{Title: "Off-CPU", CountName: "us"}); err != nil {
		fmt.Println(err)
		return
	}
	// Each box's tooltip, in preorder.
	for _, line := range strings.Split(svg.String(), "\n") {
		if _, rest, ok := strings.Cut(line, `<g class="f" `); ok {
			attrs, rest, _ := strings.Cut(rest, ">")
			title, _, _ := strings.Cut(strings.TrimPrefix(rest, "<title>"), "</title>")
			fmt.Println(attrs, title)
		}
	}
	// Output:
	// data-depth="0" data-count="2000000" all (2,000,000 us, 100.00%)
	// data-depth="1" data-count="2000000" sleepy (2,000,000 us, 100.00%)
	// data-depth="2" data-count="2000000" main (2,000,000 us, 100.00%)
	// data-depth="3" data-count="1500000" do_nanosleep (1,500,000 us, 75.00%)
	// data-depth="3" data-count="500000" runtime.gopark (500,000 us, 25.00%)
}
