package tokenizer

import (
	"encoding/json"
	"fmt"
	"slices"
)

// The post-processor of a tokenizer.json adds special tokens around an
// encoded text: LLaMA 2's TemplateProcessing puts <s> before it, LLaMA
// 3's (in a Sequence after a ByteLevel step) <|begin_of_text|>, RoBERTa's
// <s> before and </s> after. Hugging Face applies it when encoding with
// add_special_tokens=True, the default, and so what a model saw in
// training: EncodeSpecial does the same, Encode does not.

// EncodeSpecial returns the token ids of text with the special tokens the
// tokenizer.json's post-processor adds to a single text around it, as
// Hugging Face's encode with add_special_tokens=True does: for LLaMA 2's
// file, <s> followed by Encode(text). With no post-processor (GPT-2,
// Qwen2) or one that adds nothing (ByteLevel) it is Encode.
func (t *Tokenizer) EncodeSpecial(text string) []int {
	ids := t.Encode(text)
	if len(t.before) == 0 && len(t.after) == 0 {
		return ids
	}
	out := make([]int, 0, len(t.before)+len(ids)+len(t.after))
	out = append(out, t.before...)
	out = append(out, ids...)
	return append(out, t.after...)
}

// Template returns the ids EncodeSpecial puts before and after a text
// (copies; nil for none).
func (t *Tokenizer) Template() (before, after []int) {
	return slices.Clone(t.before), slices.Clone(t.after)
}

// SetTemplate replaces the ids EncodeSpecial puts before and after a text,
// as transformers' LLaMA tokenizers rebuild the post-processor from
// tokenizer_config.json's add_bos_token and add_eos_token. Every id must
// be a token of the vocabulary. It is not safe to call while the
// tokenizer is in use by other goroutines: set it once, after Load.
func (t *Tokenizer) SetTemplate(before, after []int) error {
	for _, id := range slices.Concat(before, after) {
		if _, ok := t.Token(id); !ok {
			return fmt.Errorf("tokenizer: SetTemplate: no token has id %d (vocabulary of %d)", id, len(t.tokens))
		}
	}
	t.before, t.after = slices.Clone(before), slices.Clone(after)
	return nil
}

// postJSON is a post-processor of tokenizer.json.
type postJSON struct {
	Type string `json:"type"`
	// TemplateProcessing: the template of a single text and the ids of its
	// special tokens by name
	Single []struct {
		SpecialToken *struct {
			ID string `json:"id"`
		} `json:"SpecialToken"`
		Sequence *struct {
			ID string `json:"id"`
		} `json:"Sequence"`
	} `json:"single"`
	SpecialTokens map[string]struct {
		IDs []int `json:"ids"`
	} `json:"special_tokens"`
	// RobertaProcessing and BertProcessing: [token, id]
	Cls json.RawMessage `json:"cls"`
	Sep json.RawMessage `json:"sep"`
	// Sequence
	Processors []json.RawMessage `json:"processors"`
}

// parsePost reads the post-processor raw and appends the ids it puts
// before and after a single text to t.before and t.after. The processors
// of a Sequence apply in turn, each around what the ones before it made.
func (t *Tokenizer) parsePost(raw json.RawMessage) error {
	if isNull(raw) {
		return nil
	}
	var p postJSON
	if err := json.Unmarshal(raw, &p); err != nil {
		return fmt.Errorf("tokenizer: post_processor: %v", err)
	}
	var before, after []int
	switch p.Type {
	case "ByteLevel": // only offsets, which are not computed
		return nil
	case "Sequence":
		for _, r := range p.Processors {
			if err := t.parsePost(r); err != nil {
				return err
			}
		}
		return nil
	case "TemplateProcessing":
		seq := false
		for _, piece := range p.Single {
			switch {
			case piece.Sequence != nil && !seq && piece.SpecialToken == nil:
				if piece.Sequence.ID != "A" {
					return fmt.Errorf("tokenizer: post_processor: the single template names sequence %q, not A", piece.Sequence.ID)
				}
				seq = true
			case piece.SpecialToken != nil && piece.Sequence == nil:
				s, ok := p.SpecialTokens[piece.SpecialToken.ID]
				if !ok {
					return fmt.Errorf("tokenizer: post_processor: the template's special token %q is not among its special_tokens", piece.SpecialToken.ID)
				}
				if seq {
					after = append(after, s.IDs...)
				} else {
					before = append(before, s.IDs...)
				}
			default:
				return fmt.Errorf("tokenizer: post_processor: the single template has a piece that is neither one SpecialToken nor the one Sequence")
			}
		}
		if !seq {
			return fmt.Errorf("tokenizer: post_processor: the single template has no Sequence")
		}
	case "RobertaProcessing", "BertProcessing":
		cls, err := pairID(p.Cls)
		if err != nil {
			return fmt.Errorf("tokenizer: post_processor %s: cls %v", p.Type, err)
		}
		sep, err := pairID(p.Sep)
		if err != nil {
			return fmt.Errorf("tokenizer: post_processor %s: sep %v", p.Type, err)
		}
		before, after = []int{cls}, []int{sep}
	default:
		return fmt.Errorf("tokenizer: post_processor %q is not supported", p.Type)
	}
	for _, id := range slices.Concat(before, after) {
		if _, ok := t.Token(id); !ok {
			return fmt.Errorf("tokenizer: post_processor %s adds id %d, which no token has", p.Type, id)
		}
	}
	t.before = append(before, t.before...)
	t.after = append(t.after, after...)
	return nil
}

// pairID reads the id of a [token, id] pair.
func pairID(raw json.RawMessage) (int, error) {
	var pair []json.RawMessage
	var id int
	if json.Unmarshal(raw, &pair) != nil || len(pair) != 2 || json.Unmarshal(pair[1], &id) != nil {
		return 0, fmt.Errorf("is not a [token, id] pair")
	}
	return id, nil
}
