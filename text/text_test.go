package text_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/nabla-go/nabla"
	"github.com/nabla-go/nabla/data"
	"github.com/nabla-go/nabla/nn"
	"github.com/nabla-go/nabla/text"
)

func TestCharTokenizerRoundTrip(t *testing.T) {
	tok := text.NewCharTokenizer("héllo, wörld")
	if got, want := string(tok.Vocab()), " ,dhlorwéö"; got != want {
		t.Fatalf("vocab %q, want %q", got, want)
	}
	ids, err := tok.Encode("wörld héllo")
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{7, 9, 6, 4, 2, 0, 3, 8, 4, 4, 5}; !slices.Equal(ids, want) {
		t.Fatalf("ids %v, want %v", ids, want)
	}
	s, err := tok.Decode(ids)
	if err != nil || s != "wörld héllo" {
		t.Fatalf("Decode = %q, %v", s, err)
	}
	if _, err := tok.Decode([]int{1, 11}); err == nil || !strings.Contains(err.Error(), "token 11 at position 1") {
		t.Errorf("Decode of an id out of range: %v", err)
	}
}

func TestUnknownCharacter(t *testing.T) {
	tok := text.NewCharTokenizer("abc")
	_, err := tok.Encode("abcäb!")
	var u *text.UnknownError
	if !errors.As(err, &u) {
		t.Fatalf("got %v, want an *UnknownError", err)
	}
	if u.Char != 'ä' || u.Index != 3 || u.Offset != 3 {
		t.Errorf("error %+v, want ä at position 3, byte 3", u)
	}
	if want := `character 'ä' (U+00E4) at position 3 (byte 3)`; !strings.Contains(err.Error(), want) {
		t.Errorf("%q does not say %q", err, want)
	}
}

func TestByteTokenizer(t *testing.T) {
	var tok text.ByteTokenizer
	ids, _ := tok.Encode("hé")
	if !slices.Equal(ids, []int{104, 0xc3, 0xa9}) {
		t.Fatalf("ids %v", ids)
	}
	if s, err := tok.Decode(ids); err != nil || s != "hé" {
		t.Fatalf("Decode = %q, %v", s, err)
	}
	if _, err := tok.Decode([]int{256}); err == nil {
		t.Error("Decode(256) did not fail")
	}
}

func TestReadFileInvalidUTF8(t *testing.T) {
	_, err := text.ReadFile("testdata/invalid.txt")
	var u *text.InvalidUTF8Error
	if !errors.As(err, &u) || u.Offset != 14 || u.Byte != 0xff {
		t.Fatalf("got %v, want invalid UTF-8 at byte 14", err)
	}
	if !strings.Contains(err.Error(), "testdata/invalid.txt: invalid UTF-8 at byte offset 14 (0xff)") {
		t.Errorf("message %q", err)
	}
	s, err := text.ReadFile("testdata/small.txt")
	if err != nil || s != "héllo, wörld\n" {
		t.Errorf("ReadFile = %q, %v", s, err)
	}
	if _, err := text.ReadFile("testdata/absent.txt"); err == nil {
		t.Error("no error for a missing file")
	}
}

// TestTokenizerInCheckpoint saves each tokenizer with a model checkpoint
// (as metadata) and beside it (as JSON), and gets the same one back.
func TestTokenizerInCheckpoint(t *testing.T) {
	dir := t.TempDir()
	for _, tok := range []text.Tokenizer{text.NewCharTokenizer("Newton's \"Opticks\"\n\té"), text.ByteTokenizer{}} {
		m := nn.NewLinear(rand.New(rand.NewPCG(1, 1)), 2, 2)
		path := filepath.Join(dir, "model.safetensors")
		if err := nn.Save(path, m, nn.WithMetadata(tok.Metadata())); err != nil {
			t.Fatal(err)
		}
		meta, err := nn.Load(path, m)
		if err != nil {
			t.Fatal(err)
		}
		got, err := text.FromMetadata(meta)
		if err != nil {
			t.Fatal(err)
		}
		vpath := filepath.Join(dir, "vocab.json")
		if err := text.WriteVocab(vpath, tok); err != nil {
			t.Fatal(err)
		}
		got2, err := text.ReadVocab(vpath)
		if err != nil {
			t.Fatal(err)
		}
		probe := "Newton's \"Opticks\"\n\té"
		want, _ := tok.Encode(probe)
		for _, g := range []text.Tokenizer{got, got2} {
			ids, err := g.Encode(probe)
			if err != nil || !slices.Equal(ids, want) || g.VocabSize() != tok.VocabSize() {
				t.Errorf("%T reloaded encodes %v (%v), want %v", tok, ids, err, want)
			}
		}
	}
	for _, meta := range []map[string]string{{}, {text.MetaTokenizer: "bpe"}, {text.MetaTokenizer: "char", text.MetaVocab: "[1]"}, {text.MetaTokenizer: "char", text.MetaVocab: `"aa"`}} {
		if _, err := text.FromMetadata(meta); err == nil {
			t.Errorf("FromMetadata(%v) did not fail", meta)
		}
	}
}

func TestWindows(t *testing.T) {
	ids := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	for _, c := range []struct{ context, stride, n int }{{3, 3, 3}, {3, 1, 7}, {9, 1, 1}, {4, 2, 3}} {
		w, err := text.NewWindows(ids, c.context, c.stride)
		if err != nil {
			t.Fatal(err)
		}
		if w.Len() != c.n {
			t.Errorf("context %d stride %d: %d windows, want %d", c.context, c.stride, w.Len(), c.n)
		}
		x, y := make([]float32, c.context), make([]float32, c.context)
		last := w.Len() - 1
		w.Get(last, x, y)
		for j := range x {
			if x[j] != float32(last*c.stride+j) || y[j] != x[j]+1 {
				t.Fatalf("window %d: x %v y %v", last, x, y)
			}
		}
	}
	for _, c := range []struct{ context, stride int }{{10, 1}, {0, 1}, {3, 0}} {
		if _, err := text.NewWindows(ids, c.context, c.stride); err == nil {
			t.Errorf("context %d stride %d: no error", c.context, c.stride)
		}
	}
	if _, err := text.NewWindows([]int{1, -1, 2}, 1, 1); err == nil || !strings.Contains(err.Error(), "position 1") {
		t.Errorf("negative id: %v", err)
	}
	train, val, err := text.SplitTokens(ids, 0.3)
	if err != nil || !slices.Equal(train, ids[:7]) || !slices.Equal(val, ids[7:]) {
		t.Errorf("SplitTokens = %v %v %v", train, val, err)
	}
	if _, _, err := text.SplitTokens(ids, 1); err == nil {
		t.Error("SplitTokens(1) did not fail")
	}
}

// opticks returns the path of Newton's Opticks in the Go tree, or skips.
func opticks(t *testing.T) string {
	t.Helper()
	roots := []string{runtime.GOROOT()}
	if out, err := exec.Command("go", "env", "GOROOT").Output(); err == nil {
		roots = append(roots, strings.TrimSpace(string(out)))
	}
	for _, r := range roots {
		p := filepath.Join(r, "src", "testdata", "Isaac.Newton-Opticks.txt")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Skip("Isaac.Newton-Opticks.txt is not in this Go installation (GOROOT/src/testdata)")
	return ""
}

// TestOpticks runs the whole pipeline on the real corpus and feeds the
// windows through a data.Loader.
func TestOpticks(t *testing.T) {
	corpus, err := text.ReadFile(opticks(t))
	if err != nil {
		t.Fatal(err)
	}
	tok := text.NewCharTokenizer(corpus)
	if n := tok.VocabSize(); n < 60 || n > 120 {
		t.Errorf("vocabulary of %d characters", n)
	}
	ids, err := tok.Encode(corpus)
	if err != nil {
		t.Fatal(err)
	}
	if back, _ := tok.Decode(ids); back != corpus {
		t.Fatal("decoding the encoded corpus does not give it back")
	}
	train, val, err := text.SplitTokens(ids, 0.1)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := text.NewWindows(train, 64, 64)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := text.NewWindows(val, 64, 64); err != nil {
		t.Fatal(err)
	}
	loader := data.NewLoader(ds, data.LoaderConfig{BatchSize: 32, Shuffle: true, Seed: 1, DropLast: true, Labels: true})
	n := 0
	for _, b := range loader.Epoch(0) {
		if n == 0 {
			// The first batch through an untrained language model: its
			// loss is about that of a uniform guess, ln(vocabulary).
			m := nn.NewLSTMLanguageModel(rand.New(rand.NewPCG(1, 2)), tok.VocabSize(), 16, 32, 1, 0)
			loss := m.Loss(b.X.To(nabla.Int64), b.Y).Item()
			if want := math.Log(float64(tok.VocabSize())); math.Abs(loss-want) > 0.3 {
				t.Errorf("untrained loss %.3f, want about ln(%d) = %.3f", loss, tok.VocabSize(), want)
			}
		}
		if !slices.Equal(b.X.Shape(), []int{32, 64}) || !slices.Equal(b.Y.Shape(), []int{32, 64}) {
			t.Fatalf("batch shapes %v %v", b.X.Shape(), b.Y.Shape())
		}
		// the target of position j is the input at j+1
		if b.Y.DType() != nabla.Int64 {
			t.Fatalf("targets are %v, want Int64", b.Y.DType())
		}
		x, y := b.X.Float32s(), b.Y.Float32s()
		for j := 0; j < 63; j++ {
			if y[j] != x[j+1] {
				t.Fatalf("target %d = %v, next input %v", j, y[j], x[j+1])
			}
		}
		n++
	}
	if n != ds.Len()/32 {
		t.Errorf("%d batches, want %d", n, ds.Len()/32)
	}
}
