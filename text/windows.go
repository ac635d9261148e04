package text

import (
	"fmt"

	"github.com/nabla-go/nabla/data"
)

// Windows is a [data.Dataset] of fixed-length windows over a token
// stream, for next-token prediction: sample i has the Context tokens that
// start at offset i·Stride as features and the Context tokens one position
// later as targets, both of shape [Context], as float32 token ids. With a
// [data.Loader] a batch is then (B, Context) inputs and (B, Context)
// targets.
type Windows struct {
	ids             []int
	Context, Stride int
}

var _ data.Dataset = (*Windows)(nil)

// NewWindows returns the windows of context tokens over ids, a new one
// every stride tokens (stride = context gives disjoint windows; 1 gives
// every offset). It fails if context or stride is not positive, if the
// stream holds fewer than context+1 tokens (no window with its targets),
// or if an id is negative or too large to be held exactly as a float32.
func NewWindows(ids []int, context, stride int) (*Windows, error) {
	if context <= 0 || stride <= 0 {
		return nil, fmt.Errorf("text: window context %d and stride %d must be positive", context, stride)
	}
	if len(ids) < context+1 {
		return nil, fmt.Errorf("text: %d tokens are too few for one window of context %d (need %d: inputs and the next token)", len(ids), context, context+1)
	}
	for i, id := range ids {
		if id < 0 || id > 1<<24 {
			return nil, fmt.Errorf("text: token id %d at position %d is outside [0, 2^24]", id, i)
		}
	}
	return &Windows{ids: ids, Context: context, Stride: stride}, nil
}

// Len returns the number of windows: every start i·Stride with
// i·Stride + Context + 1 ≤ the number of tokens.
func (w *Windows) Len() int { return (len(w.ids)-w.Context-1)/w.Stride + 1 }

// Shapes returns [Context] for both the inputs and the targets.
func (w *Windows) Shapes() (x, y []int) { return []int{w.Context}, []int{w.Context} }

// Get copies window i's inputs into x and its next-token targets into y.
// It panics if i is out of range.
func (w *Windows) Get(i int, x, y []float32) {
	if i < 0 || i >= w.Len() {
		panic(fmt.Sprintf("text: window %d out of range [0, %d)", i, w.Len()))
	}
	s := w.ids[i*w.Stride : i*w.Stride+w.Context+1]
	for j := 0; j < w.Context; j++ {
		x[j] = float32(s[j])
		y[j] = float32(s[j+1])
	}
}

// Tokens returns the stream the windows are cut from (shared, not a copy).
func (w *Windows) Tokens() []int { return w.ids }
