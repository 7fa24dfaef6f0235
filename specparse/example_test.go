package specparse_test

import (
	"fmt"

	"github.com/btool/btool/specparse"
)

func ExampleParseTrace() {
	pr, err := specparse.ParseTrace(`r:c:malloc ((long)retval == 0) "malloc failed, %d bytes", $entry(size)`)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(pr.Kind, pr.Library, pr.Func)
	fmt.Println(specparse.ExprString(pr.Filter))
	fmt.Println(pr.Format.Value, len(pr.Args))
	fmt.Println(pr)
	// Output:
	// r c malloc
	// (long)retval == 0
	// malloc failed, %d bytes 1
	// r:c:malloc ((long)retval == 0) "malloc failed, %d bytes", $entry(size)
}

func ExampleCaret() {
	spec := `do_sys_open+0xzz (arg1 > ) "%s`
	_, err := specparse.ParseTrace(spec)
	fmt.Print(specparse.Caret(spec, err))
	// Output:
	// error: invalid offset '0xzz': must be decimal or hexadecimal
	//   do_sys_open+0xzz (arg1 > ) "%s
	//               ^~~~
	// error: expected expression, found ')'
	//   do_sys_open+0xzz (arg1 > ) "%s
	//                            ^
	// error: unterminated string literal
	//   do_sys_open+0xzz (arg1 > ) "%s
	//                              ^~~
}

func ExampleParsePattern() {
	p, err := specparse.ParsePattern("t:syscalls:sys_enter_*", false)
	if err != nil {
		fmt.Println(err)
		return
	}
	m, _ := p.Matcher()
	fmt.Println(p.Kind, p.IsLiteral(), m.MatchEvent("syscalls", "sys_enter_read"), m.Match("syscalls:sys_exit_read"))
	// Output:
	// tracepoint false true false
}

func ExampleParseFormat() {
	verbs, _ := specparse.ParseFormat("%-8s read %llu bytes")
	for _, v := range verbs {
		fmt.Printf("%q %q takes-arg=%v\n", v.Text, v.Conv, v.TakesArg())
	}
	// Output:
	// "%-8s" "s" takes-arg=true
	// " read " "" takes-arg=false
	// "%llu" "llu" takes-arg=true
	// " bytes" "" takes-arg=false
}
