package compile

import "github.com/btool/btool/specparse"

// This file defines the typed expression tree CheckTrace builds and
// CompileTrace walks. Every node yields a scalar held in a 64-bit register,
// sign- or zero-extended from its type (the node's intType). Names are
// resolved, member chains are byte offsets, conversions are explicit.

type irNode interface{ irType() intType }

type (
	// irConst is a constant, already normalized to t.
	irConst struct {
		t intType
		v uint64
	}

	// irArg fetches a probe argument (see ArgKind) and converts its raw
	// value to t.
	irArg struct {
		arg *Arg
		t   intType
		be  int // byte-swap this many bytes after the fetch (__be16/32/64)
	}

	// irSpecial is $pid, $tgid, $uid, $gid, $cpu or $task.
	irSpecial struct {
		name string
		t    intType
	}

	// irCtxAddr is the address ctx+off, for objects that live in the
	// program's context (tracepoint arrays, fentry structs by value).
	irCtxAddr struct{ off int64 }

	// irLoad reads a scalar of t from memory at addr in space. A
	// bitfield (bitSz > 0) is bitSz bits at bit bitOff of the size bytes
	// read at addr. be > 0 byte-swaps a big-endian value.
	irLoad struct {
		addr   irNode
		space  AddrSpace
		size   int
		t      intType
		bitOff int
		bitSz  int
		be     int
	}

	// irConv converts x (of x.irType()) to t.
	irConv struct {
		x irNode
		t intType
	}

	// irUnary is -x or ~x in t (x already converted to t).
	irUnary struct {
		op specparse.Operator
		x  irNode
		t  intType
	}

	// irBinary is x op y for arithmetic, bitwise and shift operators,
	// computed in t (x and y already converted; for shifts y is any
	// integer).
	irBinary struct {
		op   specparse.Operator
		x, y irNode
		t    intType
	}

	// irCompare is x op y for < <= > >= == != in the common type ct;
	// the result is an int 0 or 1.
	irCompare struct {
		op   specparse.Operator
		x, y irNode
		ct   intType
	}

	// irLogical is x && y or x || y; the result is an int 0 or 1.
	irLogical struct {
		op   specparse.Operator
		x, y irNode
	}

	// irNot is !x.
	irNot struct{ x irNode }

	// irCond is c ? x : y with x and y converted to t.
	irCond struct {
		c, x, y irNode
		t       intType
	}

	// irStrEq is 1 when the string src equals lit exactly (including
	// the terminating NUL), else 0.
	irStrEq struct {
		src *strSource
		lit string
	}
)

func (n *irConst) irType() intType   { return n.t }
func (n *irArg) irType() intType     { return n.t }
func (n *irSpecial) irType() intType { return n.t }
func (n *irCtxAddr) irType() intType { return tULong }
func (n *irLoad) irType() intType    { return n.t }
func (n *irConv) irType() intType    { return n.t }
func (n *irUnary) irType() intType   { return n.t }
func (n *irBinary) irType() intType  { return n.t }
func (n *irCompare) irType() intType { return tInt }
func (n *irLogical) irType() intType { return tInt }
func (n *irNot) irType() intType     { return tInt }
func (n *irCond) irType() intType    { return n.t }
func (n *irStrEq) irType() intType   { return tInt }

// strKind is where a string comes from.
type strKind uint8

const (
	strPtr     strKind = iota + 1 // NUL-terminated string at a char pointer
	strArray                      // char[n] in memory at addr (n == 0: flexible array, unbounded)
	strComm                       // $comm: bpf_get_current_comm
	strDataLoc                    // tracepoint __data_loc char[] field
	strGo                         // Go string: pointer and length in registers (arg)
)

// strSource is an expression usable as a string.
type strSource struct {
	kind  strKind
	addr  irNode // strPtr, strArray: the address
	space AddrSpace
	n     int  // strArray: bytes in the array
	arg   *Arg // strDataLoc: the field; strGo: the argument
}

// isConst reports whether n is a constant, and its value.
func isConst(n irNode) (uint64, bool) {
	if c, ok := n.(*irConst); ok {
		return c.v, true
	}
	return 0, false
}
