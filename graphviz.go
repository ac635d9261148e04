package nabla

import (
	"bufio"
	"fmt"
	"io"
)

// WriteDOT writes the computational graph behind t in Graphviz's DOT
// language: one box per op with its output shape, one ellipse per leaf with
// its shape (filled when it requires a gradient), and edges from inputs to
// the ops that use them. Render it with `dot -Tsvg`. A graph released by
// Backward shows only the ops it still holds.
func WriteDOT(w io.Writer, t *Tensor) error {
	bw := bufio.NewWriter(w)
	ids := map[*Tensor]int{}
	fmt.Fprintln(bw, "digraph nabla {")
	fmt.Fprintln(bw, "\trankdir=BT;")
	fmt.Fprintln(bw, "\tnode [fontname=\"Helvetica\" fontsize=10];")
	// Walk iteratively with an explicit stack to survive deep graphs.
	type item struct {
		x    *Tensor
		next int
	}
	id := func(x *Tensor) (int, bool) {
		if i, ok := ids[x]; ok {
			return i, false
		}
		ids[x] = len(ids)
		return ids[x], true
	}
	emit := func(x *Tensor, i int) {
		switch {
		case x.node != nil:
			fmt.Fprintf(bw, "\tt%d [shape=box label=\"%s\\n%s\"];\n", i, x.node.op, shapeString(x.shape))
		case x.requiresGrad:
			fmt.Fprintf(bw, "\tt%d [shape=ellipse style=filled fillcolor=lightblue label=\"leaf %s\\nrequires grad\"];\n", i, shapeString(x.shape))
		default:
			fmt.Fprintf(bw, "\tt%d [shape=ellipse label=\"const %s\"];\n", i, shapeString(x.shape))
		}
	}
	visit := func(root *Tensor) int {
		ri, _ := id(root)
		emit(root, ri)
		stack := []item{{x: root}}
		for len(stack) > 0 {
			top := &stack[len(stack)-1]
			if top.x.node == nil || top.next >= len(top.x.node.inputs) {
				stack = stack[:len(stack)-1]
				continue
			}
			in := top.x.node.inputs[top.next]
			top.next++
			if in == nil {
				continue
			}
			ii, fresh := id(in)
			if fresh {
				emit(in, ii)
			}
			fmt.Fprintf(bw, "\tt%d -> t%d;\n", ii, ids[top.x])
			if fresh {
				stack = append(stack, item{x: in})
			}
		}
		return ri
	}
	visit(t)
	fmt.Fprintln(bw, "}")
	return bw.Flush()
}
