package hf

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/nabla-go/nabla/safetensors"
)

// Weights are the tensors of a model folder, read from model.safetensors
// or from the shards its index names. Where the platform allows, the files
// are memory-mapped and each tensor's Data points into the mapping: the
// weights take no heap memory until they are converted, and the pages stay
// the kernel's to drop. Close releases the mappings; no Data may be used
// after it.
type Weights struct {
	byName map[string]safetensors.Tensor
	maps   []mapping
}

// OpenWeights opens the safetensors weights of the model folder dir.
func OpenWeights(dir string) (*Weights, error) {
	files, err := weightFiles(dir)
	if err != nil {
		return nil, err
	}
	w := &Weights{byName: map[string]safetensors.Tensor{}}
	for _, name := range files {
		m, err := mapFile(filepath.Join(dir, name))
		if err != nil {
			w.Close()
			return nil, fmt.Errorf("hf: %s: %w", name, err)
		}
		w.maps = append(w.maps, m)
		f, err := safetensors.Decode(m.data)
		if err != nil {
			w.Close()
			return nil, fmt.Errorf("hf: %s: %w", name, err)
		}
		for _, t := range f.Tensors {
			if _, dup := w.byName[t.Name]; dup {
				w.Close()
				return nil, fmt.Errorf("hf: %s: tensor %q is also in another shard", name, t.Name)
			}
			w.byName[t.Name] = t
		}
	}
	return w, nil
}

// weightFiles returns the safetensors files of dir: model.safetensors, or
// the shards model.safetensors.index.json maps the tensors to. A shard
// name must be a plain file name in dir.
func weightFiles(dir string) ([]string, error) {
	if _, err := os.Stat(filepath.Join(dir, "model.safetensors")); err == nil {
		return []string{"model.safetensors"}, nil
	}
	path := filepath.Join(dir, "model.safetensors.index.json")
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("hf: %s has neither model.safetensors nor model.safetensors.index.json (PyTorch .bin weights are not read: convert them to safetensors)", dir)
	}
	if err != nil {
		return nil, fmt.Errorf("hf: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("hf: %s: %w", path, err)
	}
	var idx struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(data, &idx); err != nil {
		return nil, fmt.Errorf("hf: %s: %v", path, err)
	}
	var files []string
	for tensor, file := range idx.WeightMap {
		if file != filepath.Base(file) || strings.HasPrefix(file, ".") || !strings.HasSuffix(file, ".safetensors") {
			return nil, fmt.Errorf("hf: %s: tensor %q is in %q, which is not a .safetensors file in the model's folder", path, tensor, file)
		}
		if !slices.Contains(files, file) {
			files = append(files, file)
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("hf: %s: the weight_map is empty", path)
	}
	slices.Sort(files)
	return files, nil
}

// Get returns the tensor called name.
func (w *Weights) Get(name string) (safetensors.Tensor, bool) {
	t, ok := w.byName[name]
	return t, ok
}

// Names returns the tensor names, sorted.
func (w *Weights) Names() []string {
	names := make([]string, 0, len(w.byName))
	for n := range w.byName {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Close releases the files' mappings.
func (w *Weights) Close() error {
	var first error
	for _, m := range w.maps {
		if err := m.close(); err != nil && first == nil {
			first = err
		}
	}
	w.maps = nil
	return first
}
