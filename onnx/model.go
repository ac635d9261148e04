package onnx

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/nn"
)

// Supported versions. The IR versions are those of the ONNX releases that
// cover opsets 11 to 17; files of the neighbouring IR versions decode the
// same way, so they are accepted too.
const (
	MinOpset = 11 // the oldest opset of the default domain that Load accepts
	MaxOpset = 17 // the newest
	minIR    = 6
	maxIR    = 9
)

// ValueInfo describes a graph input or output.
type ValueInfo struct {
	Name  string
	DType string // "float32", "int64", ...
	// Shape holds the dimensions; a dimension that is not fixed (a dynamic
	// batch size) is -1, and its name is in DimNames.
	Shape    []int
	DimNames []string
}

// String formats the value as "name float32 [batch 1 28 28]".
func (v ValueInfo) String() string {
	dims := make([]string, len(v.Shape))
	for i, d := range v.Shape {
		switch {
		case d >= 0:
			dims[i] = fmt.Sprint(d)
		case v.DimNames[i] != "":
			dims[i] = v.DimNames[i]
		default:
			dims[i] = "?"
		}
	}
	return fmt.Sprintf("%s %s [%s]", v.Name, v.DType, strings.Join(dims, " "))
}

// OpCount is how many nodes of the graph run one operator.
type OpCount struct {
	Op    string
	Count int
}

// Model is an ONNX graph ready to run on nabla's ops. It is safe to call
// Run from several goroutines at once.
type Model struct {
	IRVersion int64
	Opset     int64  // the version of the default ("ai.onnx") domain
	Producer  string // "pytorch 1.13.0", from producer_name and producer_version
	GraphName string
	Inputs    []ValueInfo // the inputs Run needs (initializers excluded)
	Outputs   []ValueInfo

	params  []nn.Param
	buffers []nn.Param
	consts  map[string]value // initializers and values folded at load time
	nodes   []*node          // the nodes left to run, in topological order
	ops     []OpCount

	mu    sync.Mutex
	cache map[string]map[string]value // shape-only integer results per input shapes
}

// node is one operator of the graph to run.
type node struct {
	name, op string
	inputs   []string
	outputs  []string
	attrs    map[string]*attribute
	opset    int64
	run      opFunc
	// shapeOnly marks a node whose results depend on the shapes of the
	// graph's inputs but not on their values (Shape and the arithmetic
	// on its results): its integer results are kept per input shapes.
	shapeOnly bool
	// fused, on a Relu node, is the Conv (and Add) whose chain it ends:
	// they run as one op at the Relu's place (see fuseConvs).
	fused *fusion
	// inChain marks the Conv and Add nodes of a fused chain: Run skips
	// them, and the Relu at the chain's end runs them.
	inChain bool
}

// fusion is a chain Conv → Relu or Conv → Add → Relu whose intermediate
// values nothing else reads.
type fusion struct {
	conv, add *node // add is nil for Conv → Relu
	res       int   // the input of add that is not the Conv's output
}

func (n *node) String() string {
	if n.name == "" {
		return fmt.Sprintf("%s node (output %q)", n.op, strings.Join(n.outputs, ", "))
	}
	return fmt.Sprintf("%s node %q", n.op, n.name)
}

// Load reads the ONNX model at path. External data files are read only
// from the model's folder.
func Load(path string) (*Model, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("onnx: %w", err)
	}
	m, err := load(b, filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// LoadBytes decodes a model held in memory. Its external data files, if it
// has any, are read from the folder dir; with dir "" a model with
// external data is an error.
func LoadBytes(b []byte, dir string) (*Model, error) { return load(b, dir) }

// Read decodes a model from r, as LoadBytes.
func Read(r io.Reader, dir string) (*Model, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("onnx: %w", err)
	}
	return load(b, dir)
}

func load(b []byte, dir string) (*Model, error) {
	mp, err := decodeModel(b)
	if err != nil {
		return nil, err
	}
	ext := &externalReader{dir: dir, files: map[string]*os.File{}}
	if dir != "" {
		if ext.root, err = os.OpenRoot(dir); err != nil {
			return nil, fmt.Errorf("onnx: %w", err)
		}
	}
	defer ext.close()
	m, err := build(mp, ext)
	if err != nil {
		return nil, fmt.Errorf("onnx: %w", err)
	}
	return m, nil
}

// build checks the decoded graph and turns it into a Model: initializers
// become tensors, nodes are sorted topologically and checked against the
// supported operators, and the nodes that depend only on constants are
// run once now.
func build(mp *modelProto, ext *externalReader) (*Model, error) {
	if mp.irVersion < minIR || mp.irVersion > maxIR {
		return nil, fmt.Errorf("IR version %d is not supported (%d to %d)", mp.irVersion, minIR, maxIR)
	}
	m := &Model{IRVersion: mp.irVersion, Producer: strings.TrimSpace(mp.producer + " " + mp.producerVersion),
		consts: map[string]value{}, cache: map[string]map[string]value{}}
	opsets := map[string]int64{}
	for _, o := range mp.opsets {
		d := o.domain
		if d == "ai.onnx" {
			d = ""
		}
		opsets[d] = o.version
	}
	v, ok := opsets[""]
	if !ok {
		return nil, errors.New("the model imports no opset of the default domain")
	}
	if v < MinOpset || v > MaxOpset {
		return nil, fmt.Errorf("opset %d is not supported (%d to %d)", v, MinOpset, MaxOpset)
	}
	m.Opset = v
	if mp.functions > 0 {
		return nil, fmt.Errorf("the model defines %d local functions, which are not supported", mp.functions)
	}
	g := mp.graph
	if g == nil {
		return nil, errors.New("the model has no graph")
	}
	m.GraphName = g.name
	if g.sparse > 0 {
		return nil, fmt.Errorf("the graph has %d sparse initializers, which are not supported", g.sparse)
	}

	// Initializers.
	defined := map[string]string{} // name -> what defines it, for errors
	for _, t := range g.initializers {
		if t.name == "" {
			return nil, errors.New("an initializer has no name")
		}
		if _, dup := defined[t.name]; dup {
			return nil, fmt.Errorf("initializer %q is defined twice", t.name)
		}
		val, err := decodeTensorValue(t, ext)
		if err != nil {
			return nil, fmt.Errorf("initializer %q: %w", t.name, err)
		}
		m.consts[t.name] = val
		defined[t.name] = "initializer"
	}

	// Inputs that are not initializers are what Run needs.
	for _, vi := range g.inputs {
		if vi.name == "" {
			return nil, errors.New("a graph input has no name")
		}
		if defined[vi.name] == "initializer" {
			continue // IR < 4 lists initializers as inputs too
		}
		if _, dup := defined[vi.name]; dup {
			return nil, fmt.Errorf("graph input %q is defined twice", vi.name)
		}
		info, err := valueInfoOf(vi)
		if err != nil {
			return nil, fmt.Errorf("graph input %q: %w", vi.name, err)
		}
		m.Inputs = append(m.Inputs, info)
		defined[vi.name] = "graph input"
	}

	// Nodes: each output defined once, each input defined somewhere.
	nodes := make([]*node, len(g.nodes))
	producer := map[string]int{}
	var unsupported []string
	counts := map[string]int{}
	for i, np := range g.nodes {
		n := &node{name: np.name, op: np.opType, inputs: np.inputs, outputs: np.outputs, attrs: map[string]*attribute{}}
		nodes[i] = n
		for _, a := range np.attrs {
			if a.refAttr != "" {
				return nil, fmt.Errorf("%v: attribute %q refers to a function attribute, which is only legal inside functions", n, a.name)
			}
			n.attrs[a.name] = a
		}
		domain := np.domain
		if domain == "ai.onnx" {
			domain = ""
		}
		op := np.opType
		if domain != "" {
			op = domain + "." + op
		}
		counts[op]++
		n.opset = opsets[domain]
		if domain == "" {
			n.run = operators[np.opType]
		}
		if n.run == nil {
			ver := fmt.Sprintf("opset %d", n.opset)
			if _, ok := opsets[domain]; !ok && domain != "" {
				ver = "a domain the model does not import"
			}
			unsupported = append(unsupported, fmt.Sprintf("%s (%v, %s)", op, n, ver))
		}
		for _, out := range np.outputs {
			if out == "" {
				continue // an optional output left out
			}
			if what, dup := defined[out]; dup {
				return nil, fmt.Errorf("%v: output %q is already defined by %s", n, out, what)
			}
			defined[out] = n.String()
			producer[out] = i
		}
	}
	if len(unsupported) > 0 {
		return nil, fmt.Errorf("%d unsupported operator(s): %s", len(unsupported), strings.Join(unsupported, "; "))
	}
	for _, n := range nodes {
		for _, in := range n.inputs {
			if _, ok := defined[in]; !ok && in != "" {
				return nil, fmt.Errorf("%v: input %q is not defined by any node, graph input or initializer", n, in)
			}
		}
	}
	for _, vi := range g.outputs {
		if _, ok := defined[vi.name]; !ok {
			return nil, fmt.Errorf("graph output %q is not defined by any node, graph input or initializer", vi.name)
		}
		info, err := valueInfoOf(vi)
		if err != nil {
			return nil, fmt.Errorf("graph output %q: %w", vi.name, err)
		}
		m.Outputs = append(m.Outputs, info)
	}
	if len(m.Outputs) == 0 {
		return nil, errors.New("the graph has no outputs")
	}

	order, err := topoSort(nodes, producer)
	if err != nil {
		return nil, err
	}
	for op, c := range counts {
		m.ops = append(m.ops, OpCount{op, c})
	}
	sort.Slice(m.ops, func(i, j int) bool { return m.ops[i].Op < m.ops[j].Op })

	// Float initializers are the parameters, in the order the nodes first
	// read them; those read only as a batch norm's running statistics are
	// buffers. Integer initializers are constants.
	isParam := map[string]bool{}
	statsOnly := map[string]bool{}
	for _, n := range order {
		for k, in := range n.inputs {
			c, ok := m.consts[in]
			if !ok || c.t == nil {
				continue
			}
			stat := n.op == "BatchNormalization" && k >= 3
			if _, seen := statsOnly[in]; !seen {
				statsOnly[in] = stat
				m.params = append(m.params, nn.Param{Name: in, Tensor: c.t})
			} else if !stat {
				statsOnly[in] = false
			}
			isParam[in] = true
		}
	}
	var params []nn.Param
	for _, p := range m.params {
		if statsOnly[p.Name] {
			m.buffers = append(m.buffers, p)
		} else {
			p.Tensor.RequireGrad()
			params = append(params, p)
		}
	}
	m.params = params

	// Fold the nodes whose inputs are all constants (not parameters, which
	// training changes), and mark those that depend on input shapes only.
	shapeOnly := map[string]bool{}
	for _, n := range order {
		foldable, shapeDep := true, true
		shapeOp := n.op == "Shape" || n.op == "Size"
		for k, in := range n.inputs {
			if in == "" {
				continue
			}
			c, isConst := m.consts[in]
			if !isConst || isParam[in] || c.t != nil && c.t.Len() > foldInputLimit {
				foldable = false
			}
			if !(isConst && !isParam[in]) && !shapeOnly[in] && !(shapeOp && k == 0) {
				shapeDep = false
			}
		}
		var outs []value
		if foldable {
			var err error
			outs, err = runNode(&ctx{n: n, fold: true}, m.inputsOf(n, m.consts))
			if errors.Is(err, errDeferred) {
				foldable = false // too big now: Run computes it
			} else if err != nil {
				return nil, err
			}
		}
		if foldable {
			for k, out := range n.outputs {
				if out != "" {
					m.consts[out] = outs[k]
				}
			}
			continue
		}
		n.shapeOnly = shapeDep
		if shapeDep {
			for _, out := range n.outputs {
				shapeOnly[out] = true
			}
		}
		m.nodes = append(m.nodes, n)
	}
	fuseConvs(m.nodes, m.Outputs)
	return m, nil
}

// fuseConvs finds the chains Conv → Relu and Conv → Add → Relu (ResNet's
// convolution, residual add and ReLU) whose Conv and Add outputs are read
// only by the next node of the chain and are not graph outputs, and marks
// them to run as one convolution that adds and clamps its output while it
// is in the cache (nabla.Conv2dReLU). The chain runs at the Relu's place,
// where every input of its nodes has been computed.
func fuseConvs(nodes []*node, outputs []ValueInfo) {
	uses := map[string]int{}
	for _, n := range nodes {
		for _, in := range n.inputs {
			uses[in]++
		}
	}
	for _, o := range outputs {
		uses[o.Name] += 2 // never fused away
	}
	producer := map[string]*node{}
	for _, n := range nodes {
		for _, out := range n.outputs {
			producer[out] = n
		}
	}
	// conv returns the Conv node that produces v, when v is read once.
	conv := func(v string) *node {
		p := producer[v]
		if p == nil || p.op != "Conv" || p.inChain || uses[v] != 1 || len(p.outputs) != 1 {
			return nil
		}
		return p
	}
	for _, r := range nodes {
		if r.op != "Relu" || len(r.inputs) != 1 || len(r.outputs) != 1 || r.shapeOnly {
			continue
		}
		v := r.inputs[0]
		if c := conv(v); c != nil {
			c.inChain = true
			r.fused = &fusion{conv: c}
			continue
		}
		a := producer[v]
		if a == nil || a.op != "Add" || a.inChain || uses[v] != 1 || len(a.inputs) != 2 || len(a.outputs) != 1 {
			continue
		}
		for k, in := range a.inputs {
			if c := conv(in); c != nil && a.inputs[1-k] != in {
				c.inChain, a.inChain = true, true
				r.fused = &fusion{conv: c, add: a, res: 1 - k}
				break
			}
		}
	}
}

// runFused runs the chain that the Relu node r ends, with the values of
// env, and returns the Relu's output. A residual that is not a float
// tensor runs the chain's nodes one by one.
func (m *Model) runFused(r *node, env map[string]value) ([]value, error) {
	f := r.fused
	var res *nabla.Tensor
	if f.add != nil {
		v := env[f.add.inputs[f.res]]
		if v.t == nil {
			for _, n := range []*node{f.conv, f.add, r} {
				outs, err := runNode(&ctx{n: n}, m.inputsOf(n, env))
				if err != nil {
					return nil, err
				}
				env[n.outputs[0]] = outs[0]
			}
			return []value{env[r.outputs[0]]}, nil
		}
		res = v.t
	}
	return runNodeWith(&ctx{n: f.conv}, m.inputsOf(f.conv, env), func(c *ctx, in []value) []value {
		return convChain(c, in, res, true)
	})
}

// Load-time folding reads float constants of at most foldInputLimit
// elements and makes float results of at most foldLimit: bigger ones are
// left to Run, so that a hostile file cannot make Load compute for long
// or allocate much.
const (
	foldInputLimit = 1 << 12
	foldLimit      = 1 << 20
)

// topoSort orders the nodes so that each runs after those that produce its
// inputs, or reports a cycle.
func topoSort(nodes []*node, producer map[string]int) ([]*node, error) {
	indeg := make([]int, len(nodes))
	users := make([][]int, len(nodes))
	for i, n := range nodes {
		for _, in := range n.inputs {
			if p, ok := producer[in]; ok {
				indeg[i]++
				users[p] = append(users[p], i)
			}
		}
	}
	var queue, done []int
	for i := range nodes {
		if indeg[i] == 0 {
			queue = append(queue, i)
		}
	}
	order := make([]*node, 0, len(nodes))
	for len(queue) > 0 {
		i := queue[0]
		queue = queue[1:]
		order = append(order, nodes[i])
		done = append(done, i)
		for _, u := range users[i] {
			if indeg[u]--; indeg[u] == 0 {
				queue = append(queue, u)
			}
		}
	}
	if len(order) < len(nodes) {
		for i, n := range nodes {
			if indeg[i] > 0 {
				return nil, fmt.Errorf("the graph has a cycle through %v (%d nodes are on cycles or behind them)", n, len(nodes)-len(order))
			}
		}
	}
	return order, nil
}

func valueInfoOf(vi *valueInfo) (ValueInfo, error) {
	info := ValueInfo{Name: vi.name, DType: typeName(vi.elemType)}
	if vi.elemType == 0 {
		info.DType = "unknown"
	}
	for _, d := range vi.dims {
		switch {
		case d.known && (d.value < 0 || d.value > maxElements):
			return info, fmt.Errorf("dimension %d is out of range", d.value)
		case d.known:
			info.Shape = append(info.Shape, int(d.value))
		default:
			info.Shape = append(info.Shape, -1)
		}
		info.DimNames = append(info.DimNames, d.param)
	}
	if !vi.hasShape {
		info.Shape, info.DimNames = nil, nil
	}
	return info, nil
}

// inputsOf gathers a node's input values from env, with a zero value for
// an optional input left out.
func (m *Model) inputsOf(n *node, env map[string]value) []value {
	in := make([]value, len(n.inputs))
	for k, name := range n.inputs {
		if name != "" {
			in[k] = env[name]
		}
	}
	return in
}

// opError is an error an operator reports about its node's inputs or
// attributes.
type opError struct{ msg string }

func (e *opError) Error() string { return e.msg }

func fail(format string, args ...any) { panic(&opError{fmt.Sprintf(format, args...)}) }

// runNode runs one node, turning the panics of nabla's ops (a
// *nabla.ShapeError for mismatched shapes) and of the operators here into
// an error that names the node.
func runNode(c *ctx, in []value) (outs []value, err error) {
	return runNodeWith(c, in, c.n.run)
}

// runNodeWith is runNode with the operator run in place of the node's own.
func runNodeWith(c *ctx, in []value, run opFunc) (outs []value, err error) {
	n := c.n
	defer func() {
		if r := recover(); r != nil {
			e, ok := r.(error)
			var oe *opError
			var se *nabla.ShapeError
			var ve *nabla.ValueError
			if !ok || !(errors.As(e, &oe) || errors.As(e, &se) || errors.As(e, &ve)) {
				panic(r)
			}
			err = fmt.Errorf("%v: %w", n, e)
		}
	}()
	outs = run(c, in)
	if len(outs) < len(n.outputs) {
		return nil, fmt.Errorf("%v: has %d outputs, the operator gives %d", n, len(n.outputs), len(outs))
	}
	for k, o := range outs[:len(n.outputs)] {
		if n.outputs[k] != "" && !o.ok() {
			return nil, fmt.Errorf("%v: output %d (%q) is not supported", n, k, n.outputs[k])
		}
	}
	return outs, nil
}

// Run computes the graph's outputs for the given inputs, keyed by the
// names in m.Inputs. The outputs are ordinary nabla tensors: when a
// parameter requires grad (they all do after Load), Backward from them
// reaches m.Params(). An input that is missing, unknown, or of the wrong
// dtype or shape is an error, as is any failure of an operator, which
// names the node.
//
// Integer and bool outputs come back as nabla tensors of the matching
// dtype: Bool, Uint8 and Int32 as themselves, the other integer types
// (int8, int16, uint16, uint32, int64, uint64) as Int64, as PyTorch would
// hold them.
//
// For inference only, run it inside nn.NoGrad(m, ...), so that no graph
// is recorded for the parameters.
func (m *Model) Run(inputs map[string]*nabla.Tensor) (map[string]*nabla.Tensor, error) {
	env := make(map[string]value, len(m.consts)+len(inputs)+len(m.nodes))
	for k, v := range m.consts {
		env[k] = v
	}
	key, err := m.bind(inputs, env)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	cached := m.cache[key]
	m.mu.Unlock()
	fresh := map[string]value{}
	for _, n := range m.nodes {
		if n.shapeOnly && cached != nil {
			if _, ok := cached[n.outputs[0]]; ok {
				for _, out := range n.outputs {
					env[out] = cached[out]
				}
				continue
			}
		}
		if n.inChain {
			continue // run by the Relu that ends its chain
		}
		var outs []value
		var err error
		if n.fused != nil {
			outs, err = m.runFused(n, env)
		} else {
			outs, err = runNode(&ctx{n: n}, m.inputsOf(n, env))
		}
		if err != nil {
			return nil, fmt.Errorf("onnx: %w", err)
		}
		allInts := true
		for k, out := range n.outputs {
			if out != "" {
				env[out] = outs[k]
				allInts = allInts && outs[k].i != nil
			}
		}
		if n.shapeOnly && allInts && cached == nil {
			for _, out := range n.outputs {
				fresh[out] = env[out]
			}
		}
	}
	if cached == nil && len(fresh) > 0 {
		m.mu.Lock()
		if len(m.cache) >= 16 {
			clear(m.cache) // a model run at many shapes keeps only the recent ones
		}
		m.cache[key] = fresh
		m.mu.Unlock()
	}
	res := make(map[string]*nabla.Tensor, len(m.Outputs))
	for _, o := range m.Outputs {
		v := env[o.Name]
		if v.t == nil {
			v = value{t: v.i.tensor()}
		}
		res[o.Name] = v.t
	}
	return res, nil
}

// bind checks the inputs against m.Inputs and puts them into env. It
// returns a key for their shapes.
func (m *Model) bind(inputs map[string]*nabla.Tensor, env map[string]value) (string, error) {
	var key strings.Builder
	sizes := map[string]int{} // named dimensions must agree between inputs
	for _, in := range m.Inputs {
		t, ok := inputs[in.Name]
		if !ok || t == nil {
			return "", fmt.Errorf("onnx: Run: input %q (%v) is missing", in.Name, in)
		}
		shape := t.Shape()
		if in.Shape != nil {
			if len(shape) != len(in.Shape) {
				return "", fmt.Errorf("onnx: Run: input %q has shape %v, the model wants %v", in.Name, shape, in)
			}
			for k, d := range in.Shape {
				name := in.DimNames[k]
				switch {
				case d >= 0 && shape[k] != d:
					return "", fmt.Errorf("onnx: Run: input %q has shape %v, the model wants %v (dimension %d)", in.Name, shape, in, k)
				case d < 0 && name != "":
					if s, seen := sizes[name]; seen && s != shape[k] {
						return "", fmt.Errorf("onnx: Run: input %q has %s = %d, another input has %d", in.Name, name, shape[k], s)
					}
					sizes[name] = shape[k]
				}
			}
		}
		switch in.DType {
		case "float32", "float64":
			if t.DType().String() != in.DType {
				return "", fmt.Errorf("onnx: Run: input %q is %v, the model wants %s", in.Name, t.DType(), in.DType)
			}
			env[in.Name] = value{t: t}
		case "int64", "int32", "int8", "uint8", "bool":
			// nabla has no integer tensors yet: integers come as floats.
			v := value{t: t}.intsOf()
			for _, x := range t.Float64s() {
				if x != float64(int64(x)) {
					return "", fmt.Errorf("onnx: Run: input %q is %s, but holds %v", in.Name, in.DType, x)
				}
			}
			env[in.Name] = value{i: v}
		default:
			return "", fmt.Errorf("onnx: Run: input %q has element type %s, which is not supported", in.Name, in.DType)
		}
		fmt.Fprint(&key, shape, ";")
	}
	for name := range inputs {
		if !slices.ContainsFunc(m.Inputs, func(v ValueInfo) bool { return v.Name == name }) {
			return "", fmt.Errorf("onnx: Run: the model has no input %q (it has %s)", name, m.inputNames())
		}
	}
	return key.String(), nil
}

func (m *Model) inputNames() string {
	names := make([]string, len(m.Inputs))
	for i, in := range m.Inputs {
		names[i] = fmt.Sprintf("%q", in.Name)
	}
	return strings.Join(names, ", ")
}

// Params returns the trainable parameters: the floating-point
// initializers, named as in the file, in the order the graph first reads
// them. They require grad, so an optimizer made over them fine-tunes the
// model.
func (m *Model) Params() []nn.Param { return m.params }

// Buffers returns the initializers read only as the running mean and
// variance of BatchNormalization nodes: state, not trained.
func (m *Model) Buffers() []nn.Param { return m.buffers }

// Operators lists the operators of the graph with how many nodes run
// each, sorted by name (nodes folded at load time included). An operator
// of another domain than the default is named "domain.Op".
func (m *Model) Operators() []OpCount { return m.ops }

// NumParams returns the number of elements of the parameters and buffers.
func (m *Model) NumParams() int {
	n := 0
	for _, p := range append(slices.Clip(m.params), m.buffers...) {
		n += p.Tensor.Len()
	}
	return n
}

// Forward runs a model of one input and one output, so that a Model is an
// nn.Module: it panics with the error Run returns.
func (m *Model) Forward(x *nabla.Tensor) *nabla.Tensor {
	if len(m.Inputs) != 1 || len(m.Outputs) != 1 {
		panic(fmt.Errorf("onnx: Forward: the model has %d inputs and %d outputs, not 1 and 1; use Run", len(m.Inputs), len(m.Outputs)))
	}
	outs, err := m.Run(map[string]*nabla.Tensor{m.Inputs[0].Name: x})
	if err != nil {
		panic(err)
	}
	return outs[m.Outputs[0].Name]
}

// To converts the model's floating-point parameters, buffers and
// constants to dtype dt (nabla.Float32 or nabla.Float64), and its
// floating-point inputs and outputs with them, for example to fine-tune
// or gradient-check in float64. The converted parameters are new leaves
// that require grad: an optimizer made over the old Params must be made
// again. Run must not be running.
func (m *Model) To(dt nabla.DType) {
	conv := func(ps []nn.Param, grad bool) {
		for i, p := range ps {
			t := p.Tensor.Detach().To(dt)
			if t == p.Tensor {
				t = t.Clone()
			}
			if grad {
				t.RequireGrad()
			}
			ps[i].Tensor = t
			m.consts[p.Name] = value{t: t}
		}
	}
	conv(m.params, true)
	conv(m.buffers, false)
	for name, v := range m.consts {
		if v.t != nil && !v.t.RequiresGrad() && v.t.DType() != dt {
			m.consts[name] = value{t: v.t.To(dt)}
		}
	}
	for _, vs := range [][]ValueInfo{m.Inputs, m.Outputs} {
		for i := range vs {
			if vs[i].DType == "float32" || vs[i].DType == "float64" {
				vs[i].DType = dt.String()
			}
		}
	}
}
