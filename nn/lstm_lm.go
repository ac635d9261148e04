package nn

import (
	"fmt"
	"math/rand/v2"

	"github.com/nabla-go/nabla"
)

// LSTMLanguageModel is a next-token model: an [Embedding] of the tokens,
// a stacked [LSTM] (batch first) and a [Linear] head to one logit per
// vocabulary entry. Its parameters are named as the PyTorch module
//
//	class LSTMLanguageModel(nn.Module):
//	    def __init__(self, vocab, embed, hidden, layers):
//	        super().__init__()
//	        self.embedding = nn.Embedding(vocab, embed)
//	        self.lstm = nn.LSTM(embed, hidden, layers, batch_first=True)
//	        self.head = nn.Linear(hidden, vocab)
//
// names them ("embedding.weight", "lstm.weight_ih_l0", ..., "head.bias"),
// so a state_dict moves between the two.
type LSTMLanguageModel struct {
	Embedding *Embedding
	LSTM      *LSTM
	Head      *Linear
}

// NewLSTMLanguageModel returns an LSTMLanguageModel over vocab tokens,
// with embed-dimensional embeddings and layers LSTM layers of hidden
// units, dropout between the layers, each part initialised as PyTorch
// does from rng. It panics with a *nabla.ValueError for sizes that are not
// positive.
func NewLSTMLanguageModel(rng *rand.Rand, vocab, embed, hidden, layers int, dropout float64) *LSTMLanguageModel {
	if layers <= 0 {
		panic(&nabla.ValueError{Op: "nn.NewLSTMLanguageModel", Reason: fmt.Sprintf("layers must be positive, got %d", layers)})
	}
	return &LSTMLanguageModel{
		Embedding: NewEmbedding(rng, vocab, embed),
		LSTM:      NewLSTM(rng, embed, hidden, RNNOptions{NumLayers: layers, BatchFirst: true, Dropout: dropout}),
		Head:      NewLinear(rng, hidden, vocab),
	}
}

// Children returns "embedding", "lstm" and "head".
func (m *LSTMLanguageModel) Children() []Child {
	return []Child{{"embedding", m.Embedding}, {"lstm", m.LSTM}, {"head", m.Head}}
}

// Params returns the parameters of the three parts, prefixed by their names.
func (m *LSTMLanguageModel) Params() []Param { return Collect(m.Children()...) }

// Forward returns the logits (B, T, vocab) for the token ids x (B, T),
// Int64 as nn.Embedding takes them, from zero states.
func (m *LSTMLanguageModel) Forward(x *nabla.Tensor) *nabla.Tensor {
	y, _, _ := m.ForwardState(x, nil, nil)
	return y
}

// ForwardState returns the logits for x (B, T) and the LSTM's final states
// from the initial states h0 and c0 ((layers, B, hidden), nil for zeros):
// feeding the final states back in with the next tokens continues the
// sequence one step at a time, as generation does.
func (m *LSTMLanguageModel) ForwardState(x, h0, c0 *nabla.Tensor) (logits, hn, cn *nabla.Tensor) {
	if x.Dim() != 2 {
		panic(shapeErr("LSTMLanguageModel", x, "want token ids (B, T)"))
	}
	out, hn, cn := m.LSTM.ForwardState(m.Embedding.Forward(x), h0, c0)
	return m.Head.Forward(out), hn, cn
}

// Loss returns the mean cross-entropy of the next-token predictions for
// the inputs x (B, T) against the targets y (B, T), both Int64 token ids.
func (m *LSTMLanguageModel) Loss(x, y *nabla.Tensor) *nabla.Tensor {
	logits := m.Forward(x)
	v := logits.Size(-1)
	return CrossEntropy(logits.Reshape(-1, v), y.Reshape(-1))
}
