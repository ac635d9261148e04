package hf

import (
	"fmt"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/nn"
)

// Loss returns the mean cross-entropy of next-token prediction on the
// token ids (B, T), T ≥ 2: the logits at positions 0..T-2 against the
// tokens at 1..T-1, as transformers' causal-LM loss with labels = ids.
// It records the graph of every parameter that requires a gradient, for
// fine-tuning: call [Model.SetTrainable] (full fine-tuning) or
// [Model.AddLoRA] first, then Backward and an optimizer's Step.
func (m *Model) Loss(ids *nabla.Tensor) *nabla.Tensor {
	sh := ids.Shape()
	if len(sh) != 2 || sh[1] < 2 {
		panic(&nabla.ShapeError{Op: "hf.Model.Loss", Reason: "token ids must be (batch, time) with time of 2 or more", Shapes: [][]int{sh}})
	}
	B, T := sh[0], sh[1]
	h := m.Hidden(ids, nil).Slice(1, 0, T-1, 1).Contiguous() // the positions that predict a next token
	logits := m.Logits(h).Reshape(B*(T-1), -1)
	flat := ids.Ints()
	next := make([]int, 0, B*(T-1))
	for b := range B {
		next = append(next, flat[b*T+1:(b+1)*T]...)
	}
	return nn.CrossEntropy(logits, classTargets(next))
}

// classTargets holds token ids as the class-index targets nn.CrossEntropy
// takes. (The one place that builds them, to follow the label dtype that
// package nn asks for.)
func classTargets(ids []int) *nabla.Tensor { return indexTensor(ids) }

// TokenBatch cuts ids into rows of length T (the rest is dropped) and
// returns them as a (rows, T) tensor for [Model.Loss], or an error if ids
// has fewer than T tokens or T is not 2 to the model's positions.
func (m *Model) TokenBatch(ids []int, T int) (*nabla.Tensor, error) {
	if T < 2 || T > m.MaxPositions() {
		return nil, fmt.Errorf("hf: TokenBatch: length %d is not 2 to %d", T, m.MaxPositions())
	}
	rows := len(ids) / T
	if rows == 0 {
		return nil, fmt.Errorf("hf: TokenBatch: %d tokens make no row of %d", len(ids), T)
	}
	for i, id := range ids[:rows*T] {
		if id < 0 || id >= m.Config.VocabSize {
			return nil, fmt.Errorf("hf: TokenBatch: token %d is id %d, outside the vocabulary of %d", i, id, m.Config.VocabSize)
		}
	}
	return indexTensor(ids[:rows*T]).Reshape(rows, T), nil
}
