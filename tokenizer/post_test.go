package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// withPost returns the tokenizer.json file of testdata with its
// post_processor replaced by pp.
func withPost(t *testing.T, file string, pp any) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	m["post_processor"] = pp
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func template(single []any, special map[string][]int) map[string]any {
	st := map[string]any{}
	for name, ids := range special {
		st[name] = map[string]any{"id": name, "ids": ids, "tokens": []string{name}}
	}
	return map[string]any{"type": "TemplateProcessing", "single": single, "special_tokens": st}
}

func specialPiece(name string) any {
	return map[string]any{"SpecialToken": map[string]any{"id": name, "type_id": 0}}
}

var seqA = map[string]any{"Sequence": map[string]any{"id": "A", "type_id": 0}}

// TestPostProcessors checks EncodeSpecial for each post-processor form
// that tokenizer.json files use: LLaMA 3's Sequence of ByteLevel and
// TemplateProcessing on a byte-level BPE, a template with tokens on both
// sides, RoBERTa's and BERT's processors, ByteLevel alone; and that
// Encode never adds them.
func TestPostProcessors(t *testing.T) {
	const text = "Light is refracted."
	cases := []struct {
		name          string
		file          string
		pp            any
		before, after []string
	}{
		{"llama3 sequence", "llama3-tokenizer.json", map[string]any{"type": "Sequence", "processors": []any{
			map[string]any{"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false, "use_regex": true},
			template([]any{specialPiece("<|begin_of_text|>"), seqA}, map[string][]int{"<|begin_of_text|>": {997}}),
		}}, []string{"<|begin_of_text|>"}, nil},
		{"bos and eos", "llama2-tokenizer.json", template([]any{specialPiece("<s>"), seqA, specialPiece("</s>")}, map[string][]int{"<s>": {1}, "</s>": {2}}), []string{"<s>"}, []string{"</s>"}},
		{"two ids for one name", "llama2-tokenizer.json", template([]any{specialPiece("<ss>"), seqA}, map[string][]int{"<ss>": {1, 1}}), []string{"<s>", "<s>"}, nil},
		{"roberta", "gpt2-tokenizer.json", map[string]any{"type": "RobertaProcessing", "cls": []any{"<|endoftext|>", 999}, "sep": []any{"<|endoftext|>", 999}, "trim_offsets": true}, []string{"<|endoftext|>"}, []string{"<|endoftext|>"}},
		{"bert", "llama2-tokenizer.json", map[string]any{"type": "BertProcessing", "cls": []any{"<s>", 1}, "sep": []any{"</s>", 2}}, []string{"<s>"}, []string{"</s>"}},
		{"byte level only", "qwen2-tokenizer.json", map[string]any{"type": "ByteLevel", "trim_offsets": false}, nil, nil},
		{"nested sequences", "llama2-tokenizer.json", map[string]any{"type": "Sequence", "processors": []any{
			template([]any{specialPiece("<s>"), seqA}, map[string][]int{"<s>": {1}}),
			template([]any{specialPiece("</s>"), seqA, specialPiece("<unk>")}, map[string][]int{"</s>": {2}, "<unk>": {0}}),
		}}, []string{"</s>", "<s>"}, []string{"<unk>"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tok, err := Parse(withPost(t, c.file, c.pp))
			if err != nil {
				t.Fatal(err)
			}
			plain := tok.Encode(text)
			ids := func(names []string) []int {
				var out []int
				for _, n := range names {
					id, ok := tok.ID(n)
					if !ok {
						t.Fatalf("no token %q", n)
					}
					out = append(out, id)
				}
				return out
			}
			want := slices.Concat(ids(c.before), plain, ids(c.after))
			if got := tok.EncodeSpecial(text); !slices.Equal(got, want) {
				t.Errorf("EncodeSpecial = %v; want %v", tokensOf(tok, got), tokensOf(tok, want))
			}
			if b, a := tok.Template(); !slices.Equal(b, ids(c.before)) || !slices.Equal(a, ids(c.after)) {
				t.Errorf("Template() = %v, %v; want %v, %v", b, a, c.before, c.after)
			}
			if again, err := Parse(withPost(t, c.file, nil)); err != nil || !slices.Equal(again.Encode(text), plain) {
				t.Errorf("Encode depends on the post-processor: %v, %v", again.Encode(text), err)
			}
		})
	}
}

func TestSetTemplate(t *testing.T) {
	tok, err := Load(filepath.Join("testdata", "llama2-tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	plain := tok.Encode("the light")
	if err := tok.SetTemplate(nil, []int{2}); err != nil {
		t.Fatal(err)
	}
	if got, want := tok.EncodeSpecial("the light"), append(slices.Clone(plain), 2); !slices.Equal(got, want) {
		t.Errorf("after SetTemplate(nil, [2]): EncodeSpecial = %v; want %v", got, want)
	}
	if err := tok.SetTemplate([]int{tok.VocabSize()}, nil); err == nil || !strings.Contains(err.Error(), "no token has id") {
		t.Errorf("SetTemplate with an id outside the vocabulary: err = %v", err)
	}
	if got := tok.EncodeSpecial("the light"); !slices.Equal(got, append(slices.Clone(plain), 2)) {
		t.Errorf("a refused SetTemplate changed the template: %v", got)
	}
}

func TestBadPostProcessors(t *testing.T) {
	cases := []struct {
		name, want string
		pp         any
	}{
		{"unknown", `post_processor "Frobnicate" is not supported`, map[string]any{"type": "Frobnicate"}},
		{"missing special", `special token "<s>" is not among its special_tokens`, template([]any{specialPiece("<s>"), seqA}, nil)},
		{"no sequence", "has no Sequence", template([]any{specialPiece("<s>")}, map[string][]int{"<s>": {1}})},
		{"sequence B", `names sequence "B", not A`, template([]any{map[string]any{"Sequence": map[string]any{"id": "B"}}}, nil)},
		{"two sequences", "neither one SpecialToken nor the one Sequence", template([]any{seqA, seqA}, nil)},
		{"id outside the vocabulary", "adds id 5000, which no token has", template([]any{specialPiece("<s>"), seqA}, map[string][]int{"<s>": {5000}})},
		{"bad roberta", "cls is not a [token, id] pair", map[string]any{"type": "RobertaProcessing", "cls": "<s>", "sep": []any{"</s>", 2}}},
		{"bad in a sequence", `post_processor "Nope" is not supported`, map[string]any{"type": "Sequence", "processors": []any{map[string]any{"type": "Nope"}}}},
	}
	for _, c := range cases {
		_, err := Parse(withPost(t, "llama2-tokenizer.json", c.pp))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v; want one containing %q", c.name, err, c.want)
		}
	}
}
