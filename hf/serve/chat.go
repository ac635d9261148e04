package serve

import (
	"strings"

	"github.com/nabla-go/nabla/hf"
)

// Message is one message of a chat.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// ChatPrompt renders messages as the prompt the model continues with the
// assistant's answer, and returns the token ids that end the answer
// besides the model's end-of-sequence tokens, and text that ends it. The template is chosen from
// the model and its tokenizer's special tokens:
//
//   - ChatML, Qwen2's format, when the tokenizer has <|im_start|> and
//     <|im_end|> (every Qwen2 tokenizer does):
//     "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
//     ending at <|im_end|>;
//   - LLaMA 3's headers when the tokenizer has <|start_header_id|>,
//     <|end_header_id|> and <|eot_id|>:
//     "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
//     ending at <|eot_id|>;
//   - otherwise plain lines, "user: Hi\nassistant:", for base models
//     with no chat format, ending at the text "\nuser:".
//
// These are the formats the models' own Jinja templates produce for
// plain messages (no tools); a system prompt is only added when given.
func ChatPrompt(p *hf.Pretrained, messages []Message) (prompt string, stopTokens []int, stopText []string) {
	tok := p.Tokenizer
	has := func(names ...string) []int {
		var ids []int
		for _, n := range names {
			id, ok := tok.ID(n)
			if !ok {
				return nil
			}
			ids = append(ids, id)
		}
		return ids
	}
	var b strings.Builder
	if ids := has("<|im_start|>", "<|im_end|>"); ids != nil {
		for _, m := range messages {
			b.WriteString("<|im_start|>" + m.Role + "\n" + m.Content + "<|im_end|>\n")
		}
		b.WriteString("<|im_start|>assistant\n")
		return b.String(), ids[1:], nil
	}
	if ids := has("<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"); ids != nil {
		if _, ok := tok.ID("<|begin_of_text|>"); ok {
			b.WriteString("<|begin_of_text|>")
		}
		for _, m := range messages {
			b.WriteString("<|start_header_id|>" + m.Role + "<|end_header_id|>\n\n" + strings.TrimSpace(m.Content) + "<|eot_id|>")
		}
		b.WriteString("<|start_header_id|>assistant<|end_header_id|>\n\n")
		return b.String(), ids[2:], nil
	}
	for _, m := range messages {
		b.WriteString(m.Role + ": " + m.Content + "\n")
	}
	b.WriteString("assistant:")
	return b.String(), nil, []string{"\nuser:"}
}
