package serve

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/nabla-go/nabla/hf"
)

// result is one finished generation.
type result struct {
	text   string
	finish string // "stop" (a stop token or string) or "length"
	tokens int
}

// generate continues ids and calls emit with each piece of text as soon as
// it is complete and cannot be the start of a stop string. It stops at a
// stop token (o.Stop), a stop string (not part of the text), max tokens,
// or when ctx is done (returning ctx's error with what it has).
func (s *Server) generate(ctx context.Context, ids []int, o hf.GenerateOptions, stops []string, emit func(string) error) (result, error) {
	ts := hf.NewTextStream(s.p.Tokenizer)
	res := result{finish: "length"}
	var text string // all text so far, cut at a stop string
	sent := 0       // bytes of text passed to emit
	var emitErr error
	send := func(upto int) bool {
		if upto > sent && emitErr == nil {
			emitErr = emit(text[sent:upto])
			sent = upto
		}
		return emitErr == nil
	}
	hitStop := false
	o.OnToken = func(_, tok int) bool {
		s.generated.Add(1)
		res.tokens++
		if s.tokenHook != nil {
			s.tokenHook()
		}
		if slices.Contains(o.Stop, tok) {
			res.finish = "stop"
			return false
		}
		piece, err := ts.Add(tok)
		if err != nil {
			// an id the model has but the tokenizer does not (a padded
			// vocabulary) has no text
			piece = ""
		}
		text += piece
		if i := findStop(text, stops, sent); i >= 0 {
			text, res.finish, hitStop = text[:i], "stop", true
			send(i)
			return false
		}
		return send(len(text) - heldBack(text, stops))
	}
	_, err := s.p.Generate(ctx, [][]int{ids}, o)
	if !hitStop {
		text += ts.Flush()
		if i := findStop(text, stops, sent); i >= 0 {
			text, res.finish = text[:i], "stop"
		}
		send(len(text))
	}
	res.text = text
	if err == nil {
		err = emitErr
	}
	return res, err
}

// findStop returns the index of the earliest stop string in text that ends
// after sent, or -1.
func findStop(text string, stops []string, sent int) int {
	best := -1
	for _, st := range stops {
		lo := max(0, sent-len(st)+1)
		if i := strings.Index(text[lo:], st); i >= 0 && (best < 0 || lo+i < best) {
			best = lo + i
		}
	}
	return best
}

// heldBack returns the length of the longest end of text that is the
// start of a stop string: text that must wait for the next token.
func heldBack(text string, stops []string) int {
	hold := 0
	for _, st := range stops {
		for k := min(len(st)-1, len(text)); k > hold; k-- {
			if strings.HasSuffix(text, st[:k]) {
				hold = k
				break
			}
		}
	}
	return hold
}

// genError turns Generate's error into the answer for a non-streaming
// request.
func (s *Server) genError(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return &apiError{status: http.StatusGatewayTimeout, typ: "server_error", code: "timeout", message: fmt.Sprintf("the request took longer than the server's limit of %v", s.o.Timeout)}
	}
	if errors.Is(err, context.Canceled) {
		// the client is gone: nobody reads the answer
		return &apiError{status: 499, typ: "invalid_request_error", code: "client_closed", message: "the client closed the request"}
	}
	return err
}

func newID(prefix string) string {
	var b [12]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// eventStream starts a server-sent-events answer and returns the function
// that sends one event (a JSON value, or the string "[DONE]").
func eventStream(w http.ResponseWriter) func(v any) error {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	return func(v any) error {
		var b []byte
		if d, ok := v.(string); ok {
			b = []byte(d)
		} else {
			var err error
			if b, err = json.Marshal(v); err != nil {
				return err
			}
		}
		if _, err := fmt.Fprintf(w, "data: %s\n\n", b); err != nil {
			return err
		}
		return rc.Flush()
	}
}

// streamEnd is the error event of a stream that could not finish.
func streamError(send func(any) error, err error) {
	send(map[string]any{"error": map[string]any{"message": err.Error(), "type": "server_error", "code": "generation_failed"}})
	send("[DONE]")
}

// completionRequest is the body of POST /v1/completions.
type completionRequest struct {
	sampling
	Prompt stringList `json:"prompt"`
}

func (s *Server) completions(w http.ResponseWriter, r *http.Request, body []byte) error {
	var q completionRequest
	if err := decode(body, &q); err != nil {
		return err
	}
	if !q.Prompt.set || len(q.Prompt.texts) == 0 {
		return badRequest("missing_prompt", "prompt is required: a string or a list of strings")
	}
	if len(q.Prompt.texts) > s.o.MaxInputs {
		return badRequest("too_many_prompts", "%d prompts; at most %d per request", len(q.Prompt.texts), s.o.MaxInputs)
	}
	o, err := s.options(&q.sampling, min(16, s.o.MaxTokens)) // OpenAI's default max_tokens
	if err != nil {
		return err
	}
	prompts := make([][]int, len(q.Prompt.texts))
	for i, t := range q.Prompt.texts {
		if prompts[i], err = s.encode(t, o.MaxTokens); err != nil {
			if len(prompts) > 1 {
				err.(*apiError).message = fmt.Sprintf("prompt %d: %s", i, err.(*apiError).message)
			}
			return err
		}
	}
	release, err := s.acquire(r.Context())
	if err != nil {
		return s.genError(err)
	}
	defer release()
	ctx, cancel := context.WithTimeout(r.Context(), s.o.Timeout)
	defer cancel()
	id, created := newID("cmpl-"), time.Now().Unix()
	chunk := func(i int, text string, finish any) map[string]any {
		return map[string]any{"id": id, "object": "text_completion", "created": created, "model": s.o.ModelName,
			"choices": []any{map[string]any{"index": i, "text": text, "logprobs": nil, "finish_reason": finish}}}
	}
	if q.Stream {
		send := eventStream(w)
		for i, ids := range prompts {
			res, err := s.generate(ctx, ids, o, q.Stop, func(piece string) error { return send(chunk(i, piece, nil)) })
			if errors.Is(err, context.DeadlineExceeded) {
				res.finish, err = "length", nil
			}
			if err != nil {
				if ctx.Err() == nil {
					streamError(send, err)
				}
				return nil
			}
			if send(chunk(i, "", res.finish)) != nil {
				return nil
			}
		}
		send("[DONE]")
		return nil
	}
	choices := make([]any, len(prompts))
	var promptTokens, completion int
	for i, ids := range prompts {
		res, err := s.generate(ctx, ids, o, q.Stop, func(string) error { return nil })
		if err != nil {
			return s.genError(err)
		}
		choices[i] = map[string]any{"index": i, "text": res.text, "logprobs": nil, "finish_reason": res.finish}
		promptTokens += len(ids)
		completion += res.tokens
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": id, "object": "text_completion", "created": created, "model": s.o.ModelName,
		"choices": choices, "usage": usage(promptTokens, completion)})
	return nil
}

func usage(prompt, completion int) map[string]int {
	return map[string]int{"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
}

// chatRequest is the body of POST /v1/chat/completions.
type chatRequest struct {
	sampling
	Messages []Message `json:"messages"`
}

func (s *Server) chat(w http.ResponseWriter, r *http.Request, body []byte) error {
	var q chatRequest
	if err := decode(body, &q); err != nil {
		return err
	}
	if len(q.Messages) == 0 {
		return badRequest("missing_messages", "messages is required: a list of {\"role\", \"content\"}")
	}
	for i, m := range q.Messages {
		switch m.Role {
		case "system", "user", "assistant":
		default:
			return badRequest("invalid_role", "message %d has role %q; want system, user or assistant", i, m.Role)
		}
	}
	o, err := s.options(&q.sampling, 0)
	if err != nil {
		return err
	}
	prompt, stopTokens, stopText := ChatPrompt(s.p, q.Messages)
	if len(q.Stop)+len(stopText) > 0 {
		q.Stop = append(append([]string(nil), q.Stop...), stopText...)
	}
	ids, err := s.encode(prompt, o.MaxTokens)
	if err != nil {
		return err
	}
	if o.MaxTokens == 0 { // not given: as many as fit
		o.MaxTokens = min(s.o.MaxTokens, s.p.MaxPositions()-len(ids))
	}
	o.Stop = append(o.Stop, stopTokens...)
	release, err := s.acquire(r.Context())
	if err != nil {
		return s.genError(err)
	}
	defer release()
	ctx, cancel := context.WithTimeout(r.Context(), s.o.Timeout)
	defer cancel()
	id, created := newID("chatcmpl-"), time.Now().Unix()
	if q.Stream {
		send := eventStream(w)
		chunk := func(delta map[string]any, finish any) map[string]any {
			return map[string]any{"id": id, "object": "chat.completion.chunk", "created": created, "model": s.o.ModelName,
				"choices": []any{map[string]any{"index": 0, "delta": delta, "finish_reason": finish}}}
		}
		if send(chunk(map[string]any{"role": "assistant", "content": ""}, nil)) != nil {
			return nil
		}
		res, err := s.generate(ctx, ids, o, q.Stop, func(piece string) error { return send(chunk(map[string]any{"content": piece}, nil)) })
		if errors.Is(err, context.DeadlineExceeded) {
			res.finish, err = "length", nil
		}
		if err != nil {
			if ctx.Err() == nil {
				streamError(send, err)
			}
			return nil
		}
		if send(chunk(map[string]any{}, res.finish)) == nil {
			send("[DONE]")
		}
		return nil
	}
	res, err := s.generate(ctx, ids, o, q.Stop, func(string) error { return nil })
	if err != nil {
		return s.genError(err)
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": id, "object": "chat.completion", "created": created, "model": s.o.ModelName,
		"choices": []any{map[string]any{"index": 0, "message": Message{Role: "assistant", Content: res.text}, "finish_reason": res.finish}},
		"usage":   usage(len(ids), res.tokens)})
	return nil
}

// embeddingRequest is the body of POST /v1/embeddings.
type embeddingRequest struct {
	Input          stringList `json:"input"`
	Model          string     `json:"model"`
	EncodingFormat string     `json:"encoding_format"`
	User           string     `json:"user"`
}

func (s *Server) embeddings(w http.ResponseWriter, r *http.Request, body []byte) error {
	var q embeddingRequest
	if err := decode(body, &q); err != nil {
		return err
	}
	if !q.Input.set || len(q.Input.texts) == 0 {
		return badRequest("missing_input", "input is required: a string or a list of strings")
	}
	if len(q.Input.texts) > s.o.MaxInputs {
		return badRequest("too_many_inputs", "%d inputs; at most %d per request", len(q.Input.texts), s.o.MaxInputs)
	}
	if q.EncodingFormat != "" && q.EncodingFormat != "float" {
		return badRequest("unsupported_parameter", "encoding_format %q: only \"float\" is supported", q.EncodingFormat)
	}
	tokens := 0
	for i, t := range q.Input.texts {
		n := len(s.p.EncodePrompt(t)) // as Embed counts them
		if n == 0 {
			return badRequest("empty_input", "input %d is empty (it has no tokens)", i)
		}
		if n > s.o.MaxPromptTokens {
			return badRequest("context_length_exceeded", "input %d has %d tokens; the limit is %d", i, n, s.o.MaxPromptTokens)
		}
		tokens += n
	}
	release, err := s.acquire(r.Context())
	if err != nil {
		return s.genError(err)
	}
	defer release()
	emb, err := s.p.Embed(q.Input.texts)
	if err != nil {
		return badRequest("invalid_input", "%v", err)
	}
	data := make([]any, len(emb))
	for i, e := range emb {
		data[i] = map[string]any{"object": "embedding", "index": i, "embedding": e}
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": data, "model": s.o.ModelName,
		"usage": map[string]int{"prompt_tokens": tokens, "total_tokens": tokens}})
	return nil
}
