package model

import (
	"github.com/nabla-go/nabla/nn"
)

// SaveWeights writes the parameters and buffers of m to path as
// safetensors, atomically, with meta in the file's metadata.
func SaveWeights(path string, m nn.Module, meta map[string]string) error {
	return nn.Save(path, m, nn.WithMetadata(meta))
}

// LoadWeights reads the safetensors file at path into m. Every parameter
// of m must be in the file with the same shape, and the file must hold
// nothing else; otherwise the error lists what does not fit and m is left
// unchanged.
func LoadWeights(path string, m nn.Module) error {
	_, err := nn.Load(path, m)
	return err
}
