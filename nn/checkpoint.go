package nn

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/safetensors"
)

// extraKey is the metadata entry in which Save records the prefixes of the
// extra tensor groups, comma-separated, so that Load can tell them from
// unexpected names. Load does not return it.
const extraKey = "nabla.extra"

// SaveOption adds to what [Save] writes.
type SaveOption func(*saveConfig)

type saveConfig struct {
	meta   map[string]string
	extras []extraGroup
}

type extraGroup struct {
	prefix  string
	tensors []Param
}

// WithMetadata stores string metadata in the checkpoint's header, such as
// the model's configuration as JSON or the epoch reached. Load returns it.
// The key "nabla.extra" is reserved.
func WithMetadata(meta map[string]string) SaveOption {
	return func(c *saveConfig) {
		if c.meta == nil {
			c.meta = map[string]string{}
		}
		maps.Copy(c.meta, meta)
	}
}

// WithExtra stores the tensors ts (an optimizer's or scheduler's State,
// say) beside the model's, each named prefix + its name. The prefix should
// end with "." ("optim."); it must not be empty nor contain a comma, and
// no model name may start with it. [LoadCheckpoint] returns the group by
// its prefix, and [Load] skips it.
func WithExtra(prefix string, ts []Param) SaveOption {
	return func(c *saveConfig) { c.extras = append(c.extras, extraGroup{prefix, ts}) }
}

// StateDict returns the tensors a checkpoint of m holds: its parameters,
// then its buffers (see [Buffers]), with their dotted names.
func StateDict(m Module) []Param {
	return append(m.Params(), Buffers(m)...)
}

// Save writes m's parameters and buffers to path as a safetensors file,
// float32 tensors as F32 and float64 ones as F64, little-endian, under
// their names ("0.weight", "0.bias", ... as PyTorch's state_dict), so that
// PyTorch and Hugging Face tools can read it. BatchNorm's
// num_batches_tracked (a buffer of that name) is written as an I64 scalar,
// as PyTorch stores it. Options add metadata and
// extra tensor groups such as the optimizer's state:
//
//	err := nn.Save(path, model,
//		nn.WithMetadata(map[string]string{"epoch": "3", "config": cfgJSON}),
//		nn.WithExtra("optim.", opt.State()))
//
// The file is written atomically (a temporary file, synced, then renamed
// over path), so a crash during Save leaves the previous checkpoint whole.
// Save fails, writing nothing, if two tensors would have the same name,
// a tensor is nil, a prefix is invalid or the reserved metadata key is
// used.
func Save(path string, m Module, opts ...SaveOption) error {
	var cfg saveConfig
	for _, o := range opts {
		o(&cfg)
	}
	if _, ok := cfg.meta[extraKey]; ok {
		return fmt.Errorf("nn: Save %s: metadata key %q is reserved", path, extraKey)
	}
	model := StateDict(m)
	var tensors []safetensors.Tensor
	seen := map[string]bool{}
	add := func(name string, t *nabla.Tensor) error {
		switch {
		case name == "":
			return fmt.Errorf("a tensor has an empty name")
		case t == nil:
			return fmt.Errorf("%q is nil", name)
		case seen[name]:
			return fmt.Errorf("two tensors are named %q", name)
		}
		seen[name] = true
		tensors = append(tensors, toSafetensors(name, t))
		return nil
	}
	for _, p := range model {
		if err := add(p.Name, p.Tensor); err != nil {
			return fmt.Errorf("nn: Save %s: %w", path, err)
		}
	}
	var prefixes []string
	for _, g := range cfg.extras {
		if g.prefix == "" || strings.Contains(g.prefix, ",") || slices.Contains(prefixes, g.prefix) {
			return fmt.Errorf("nn: Save %s: invalid or repeated extra prefix %q", path, g.prefix)
		}
		for _, p := range model {
			if strings.HasPrefix(p.Name, g.prefix) {
				return fmt.Errorf("nn: Save %s: extra prefix %q is also the start of the model's %q", path, g.prefix, p.Name)
			}
		}
		prefixes = append(prefixes, g.prefix)
		for _, p := range g.tensors {
			if err := add(g.prefix+p.Name, p.Tensor); err != nil {
				return fmt.Errorf("nn: Save %s: %w", path, err)
			}
		}
	}
	meta := maps.Clone(cfg.meta)
	if len(prefixes) > 0 {
		if meta == nil {
			meta = map[string]string{}
		}
		meta[extraKey] = strings.Join(prefixes, ",")
	}
	if err := safetensors.WriteFile(path, tensors, meta); err != nil {
		return fmt.Errorf("nn: Save: %w", err)
	}
	return nil
}

func toSafetensors(name string, t *nabla.Tensor) safetensors.Tensor {
	shape := t.Shape()
	if isBatchCount(name) {
		v := t.Float64s()
		n := make([]int64, len(v))
		for i, x := range v {
			n[i] = int64(x) // a count: a whole number
		}
		return safetensors.FromInt64s(name, shape, n)
	}
	if t.DType() == nabla.Float64 {
		if t.IsContiguous() {
			return safetensors.FromFloat64s(name, shape, t.Data64())
		}
		return safetensors.FromFloat64s(name, shape, t.Float64s())
	}
	if t.IsContiguous() {
		return safetensors.FromFloat32s(name, shape, t.Data32())
	}
	return safetensors.FromFloat32s(name, shape, t.Float32s())
}

// isBatchCount reports whether name is a BatchNorm's num_batches_tracked,
// which PyTorch keeps (and checkpoints hold) as int64.
func isBatchCount(name string) bool {
	return name == "num_batches_tracked" || strings.HasSuffix(name, ".num_batches_tracked")
}

// LoadOption changes how [Load] and [LoadCheckpoint] read a checkpoint.
type LoadOption func(*loadConfig)

type loadConfig struct {
	convert bool
}

// ConvertDType lets Load copy a floating-point tensor of another dtype
// into the model's, converting as [nabla.Tensor.To] does: a float16,
// bfloat16 or float64 checkpoint (most published weights are float16 or
// bfloat16) loads into a float32 model, and a float32 one into a float64
// model. F16 and BF16 widen to float32 exactly; F64 rounds to nearest.
//
// Without it Load refuses a floating-point dtype that differs from the
// model's, with an error naming both and this option. PyTorch's
// load_state_dict converts silently; nabla asks, because a half-precision
// checkpoint in a float32 model computes with rounded weights, and a
// float32 model that loads float64 values drops precision, neither of
// which a user should get without saying so. Integer tensors (PyTorch's
// int64 num_batches_tracked) are converted either way.
func ConvertDType() LoadOption {
	return func(c *loadConfig) { c.convert = true }
}

// Checkpoint is what [LoadCheckpoint] reads besides the model's tensors.
type Checkpoint struct {
	// Metadata is the string metadata saved with WithMetadata.
	Metadata map[string]string
	// Extra maps each prefix given to WithExtra to its tensors, named
	// without the prefix, in name order: ck.Extra["optim."] is ready for
	// an optimizer's LoadState. F32 tensors come back as float32 and
	// others as float64.
	Extra map[string][]Param
}

// Load reads the checkpoint at path into m, copying each tensor into the
// parameter or buffer of the same name in place (optimizers that hold
// m's parameters keep working), and returns its metadata. Extra tensor
// groups saved with WithExtra are skipped; use [LoadCheckpoint] to get them.
//
// Before changing anything, Load checks that the file's tensors match m's
// exactly: every name present, no unexpected name, the same shapes, and
// the same float dtype (F32 for float32, F64 for float64; integer dtypes,
// as PyTorch's num_batches_tracked, are converted; other float dtypes, such
// as F16 and BF16, are converted with the option [ConvertDType]). If
// anything differs it returns one error listing every difference and
// leaves m unchanged. A corrupt or truncated file gives an error, never a
// panic.
func Load(path string, m Module, opts ...LoadOption) (map[string]string, error) {
	ck, err := loadCheckpoint(path, m, false, opts)
	if err != nil {
		return nil, err
	}
	return ck.Metadata, nil
}

// LoadCheckpoint is [Load] that also returns the extra tensor groups, such
// as the optimizer state saved with WithExtra:
//
//	ck, err := nn.LoadCheckpoint(path, model)
//	if err != nil { ... }
//	if err := opt.LoadState(ck.Extra["optim."]); err != nil { ... }
func LoadCheckpoint(path string, m Module, opts ...LoadOption) (*Checkpoint, error) {
	return loadCheckpoint(path, m, true, opts)
}

func loadCheckpoint(path string, m Module, wantExtra bool, opts []LoadOption) (*Checkpoint, error) {
	var cfg loadConfig
	for _, o := range opts {
		o(&cfg)
	}
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("nn: Load: %w", err)
	}
	ck := &Checkpoint{Metadata: map[string]string{}, Extra: map[string][]Param{}}
	var prefixes []string
	for k, v := range f.Metadata {
		if k == extraKey {
			if v != "" {
				prefixes = strings.Split(v, ",")
			}
			continue
		}
		ck.Metadata[k] = v
	}
	extraOf := func(name string) (string, bool) {
		for _, p := range prefixes {
			if strings.HasPrefix(name, p) {
				return p, true
			}
		}
		return "", false
	}

	// check the model's tensors against the file, decoding them
	model := StateDict(m)
	values := make([][]float64, len(model)) // float64 tensors
	values32 := make([][]float32, len(model))
	var missing, problems []string
	inModel := map[string]bool{}
	for i, p := range model {
		inModel[p.Name] = true
		ft, ok := f.Get(p.Name)
		if !ok {
			missing = append(missing, fmt.Sprintf("%q", p.Name))
			continue
		}
		if p.Tensor == nil || !p.Tensor.IsContiguous() {
			problems = append(problems, fmt.Sprintf("%q: the model's tensor is nil or not contiguous", p.Name))
			continue
		}
		want := safetensors.F32
		if p.Tensor.DType() == nabla.Float64 {
			want = safetensors.F64
		}
		if ft.DType != want && !isInt(ft.DType) && !cfg.convert {
			problems = append(problems, fmt.Sprintf("%q: dtype %s in file, %s in model (nn.ConvertDType() converts)", p.Name, ft.DType, want))
			continue
		}
		if !slices.Equal(ft.Shape, p.Tensor.Shape()) && !(len(ft.Shape) == 0 && p.Tensor.Dim() == 0) {
			problems = append(problems, fmt.Sprintf("%q: shape %v in file, %v in model", p.Name, shapeOf(ft.Shape), p.Tensor.Shape()))
			continue
		}
		var err error
		if want == safetensors.F64 {
			values[i], err = safetensors.Float64s(ft)
		} else {
			values32[i], err = safetensors.Float32s(ft)
		}
		if err != nil {
			problems = append(problems, fmt.Sprintf("%q: %v", p.Name, err))
		}
	}
	var unexpected []string
	for _, t := range f.Tensors {
		if inModel[t.Name] {
			continue
		}
		if _, ok := extraOf(t.Name); !ok {
			unexpected = append(unexpected, fmt.Sprintf("%q", t.Name))
		}
	}
	if len(missing) > 0 {
		problems = append(problems, "missing "+strings.Join(missing, ", "))
	}
	if len(unexpected) > 0 {
		problems = append(problems, "unexpected "+strings.Join(unexpected, ", "))
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("nn: Load %s: the checkpoint does not match the model: %s", path, strings.Join(problems, "; "))
	}

	// the extra groups
	if wantExtra {
		for _, t := range f.Tensors {
			p, ok := extraOf(t.Name)
			if !ok || inModel[t.Name] {
				continue
			}
			nt, err := toNabla(t)
			if err != nil {
				return nil, fmt.Errorf("nn: Load %s: %q: %w", path, t.Name, err)
			}
			ck.Extra[p] = append(ck.Extra[p], Param{Name: strings.TrimPrefix(t.Name, p), Tensor: nt})
		}
		for _, g := range ck.Extra {
			slices.SortFunc(g, func(a, b Param) int { return strings.Compare(a.Name, b.Name) })
		}
	}

	// everything checked: copy in place
	for i, p := range model {
		if p.Tensor.DType() == nabla.Float64 {
			copy(p.Tensor.Data64(), values[i])
		} else {
			copy(p.Tensor.Data32(), values32[i])
		}
	}
	return ck, nil
}

func isInt(d safetensors.DType) bool {
	switch d {
	case safetensors.Bool, safetensors.U8, safetensors.I8, safetensors.I16, safetensors.U16,
		safetensors.I32, safetensors.U32, safetensors.I64, safetensors.U64:
		return true
	}
	return false
}

func shapeOf(s []int) []int {
	if s == nil {
		return []int{}
	}
	return s
}

// toNabla converts a file tensor to a nabla tensor: F32 as float32, any
// other dtype as float64.
func toNabla(t safetensors.Tensor) (*nabla.Tensor, error) {
	shape := append([]int{}, t.Shape...)
	var out *nabla.Tensor
	if t.DType == safetensors.F32 {
		v, err := safetensors.Float32s(t)
		if err != nil {
			return nil, err
		}
		err = nabla.Maybe(func() { out = nabla.FromSlice(v, shape...) })
		return out, err
	}
	v, err := safetensors.Float64s(t)
	if err != nil {
		return nil, err
	}
	err = nabla.Maybe(func() { out = nabla.FromSlice(v, shape...) })
	return out, err
}
