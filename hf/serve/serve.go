// Package serve is an HTTP server for a pretrained language model with
// OpenAI's API: POST /v1/completions, /v1/chat/completions (both streaming
// with server-sent events when asked) and /v1/embeddings, GET /v1/models
// and /healthz. It is an http.Handler, so it runs under net/http's server
// or httptest.
//
// Every request is bounded: the body's size, the prompt's tokens, the new
// tokens, the time it may take, and the generations that run at once (a
// semaphore, with a bounded queue before it: a request that finds the
// queue full gets 429 at once). Any request that does not fit gets a 4xx
// answer with an OpenAI-style JSON error,
//
//	{"error": {"message": "...", "type": "invalid_request_error", "code": "..."}}
//
// Text is sent as JSON strings, which hold valid UTF-8 only: a byte-level
// model can generate bytes that are not (half a character, then another
// token), and each such byte comes out as U+FFFD.
//
// A client that disconnects cancels its request's context, which stops
// its generation at the next token.
//
// All generations share one model, which they only read. The model must
// not be trained or changed while the server runs.
//
// Chat messages become a prompt by a fixed template chosen from the model
// and its tokenizer (see [ChatPrompt]), not by the Jinja chat_template of
// tokenizer_config.json: a Jinja engine would be a new dependency or a
// large piece of code for what, for the supported families, is three
// fixed formats.
package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nabla-go/nabla/hf"
)

// Options are the server's limits. Zero fields take the defaults given.
type Options struct {
	// ModelName is the id /v1/models lists and responses name (default
	// "nabla").
	ModelName string
	// MaxBodyBytes bounds a request body (default 1 MiB); a larger one
	// gets 413.
	MaxBodyBytes int64
	// MaxPromptTokens bounds a prompt's tokens (default: the model's
	// positions).
	MaxPromptTokens int
	// MaxTokens bounds max_tokens (default 512).
	MaxTokens int
	// MaxConcurrent is the number of generations (or embeddings) that run
	// at once (default GOMAXPROCS).
	MaxConcurrent int
	// MaxQueue is the number of requests that may wait for a slot
	// (default 4×MaxConcurrent); one more gets 429.
	MaxQueue int
	// Timeout bounds a request's time once admitted (default 2 minutes).
	// A non-streaming request that runs out gets 504; a stream ends with
	// finish_reason "length".
	Timeout time.Duration
	// MaxInputs bounds the prompts or texts of one request (default 16).
	MaxInputs int
}

func (o Options) withDefaults(p *hf.Pretrained) Options {
	if o.ModelName == "" {
		o.ModelName = "nabla"
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 1 << 20
	}
	if o.MaxPromptTokens <= 0 || o.MaxPromptTokens > p.MaxPositions() {
		o.MaxPromptTokens = p.MaxPositions()
	}
	if o.MaxTokens <= 0 {
		o.MaxTokens = 512
	}
	if o.MaxConcurrent <= 0 {
		o.MaxConcurrent = runtime.GOMAXPROCS(0)
	}
	if o.MaxQueue <= 0 {
		o.MaxQueue = 4 * o.MaxConcurrent
	}
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Minute
	}
	if o.MaxInputs <= 0 {
		o.MaxInputs = 16
	}
	return o
}

// Server serves one model. Create it with [New].
type Server struct {
	p       *hf.Pretrained
	o       Options
	mux     *http.ServeMux
	admit   chan struct{} // running or queued requests
	slots   chan struct{} // running requests
	created int64

	active    atomic.Int64 // generations running
	generated atomic.Int64 // tokens generated, all requests

	tokenHook func() // called at each generated token (tests slow generation with it)
}

// New returns a server for p with the limits o.
func New(p *hf.Pretrained, o Options) *Server {
	o = o.withDefaults(p)
	s := &Server{
		p: p, o: o, mux: http.NewServeMux(),
		admit:   make(chan struct{}, o.MaxConcurrent+o.MaxQueue),
		slots:   make(chan struct{}, o.MaxConcurrent),
		created: time.Now().Unix(),
	}
	s.mux.HandleFunc("/healthz", s.healthz)
	s.mux.HandleFunc("/v1/models", s.models)
	s.mux.HandleFunc("/v1/completions", s.post(s.completions))
	s.mux.HandleFunc("/v1/chat/completions", s.post(s.chat))
	s.mux.HandleFunc("/v1/embeddings", s.post(s.embeddings))
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found_error", "unknown_url", fmt.Sprintf("no endpoint %s %s (endpoints: /v1/completions, /v1/chat/completions, /v1/embeddings, /v1/models, /healthz)", r.Method, r.URL.Path))
	})
	return s
}

// Options returns the limits in effect, defaults filled in.
func (s *Server) Options() Options { return s.o }

// Stats are counters for monitoring and tests.
type Stats struct {
	Active    int64 // generations and embeddings running now
	Generated int64 // tokens generated since the start
}

// Stats returns the server's counters.
func (s *Server) Stats() Stats {
	return Stats{Active: s.active.Load(), Generated: s.generated.Load()}
}

// ServeHTTP implements http.Handler. A panic in a handler (a bug) is
// answered with a 500 JSON error rather than a dropped connection.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			writeError(w, http.StatusInternalServerError, "server_error", "internal_error", fmt.Sprint("internal error: ", v))
		}
	}()
	s.mux.ServeHTTP(w, r)
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, "GET")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "model": s.o.ModelName, "active": s.active.Load()})
}

func (s *Server) models(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		methodNotAllowed(w, "GET")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": []any{map[string]any{
		"id": s.o.ModelName, "object": "model", "created": s.created, "owned_by": "nabla",
	}}})
}

// apiError is an error answer: HTTP status and OpenAI's error object.
type apiError struct {
	status        int
	typ, code     string
	message       string
	headerRetryIn bool
}

func (e *apiError) Error() string { return e.message }

func badRequest(code, format string, a ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, typ: "invalid_request_error", code: code, message: fmt.Sprintf(format, a...)}
}

func writeError(w http.ResponseWriter, status int, typ, code, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{"message": msg, "type": typ, "code": code}})
}

func (e *apiError) write(w http.ResponseWriter) {
	if e.headerRetryIn {
		w.Header().Set("Retry-After", "1")
	}
	writeError(w, e.status, e.typ, e.code, e.message)
}

func methodNotAllowed(w http.ResponseWriter, allow string) {
	w.Header().Set("Allow", allow)
	writeError(w, http.StatusMethodNotAllowed, "invalid_request_error", "method_not_allowed", "use "+allow)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v) // the client may be gone; nothing to do then
}

// post wraps a handler of a JSON POST endpoint: the method and the body's
// size are checked, the body is decoded into the
// handler's request, and an *apiError it returns is written.
func (s *Server) post(h func(w http.ResponseWriter, r *http.Request, body []byte) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			methodNotAllowed(w, "POST")
			return
		}
		// The body is read as JSON whatever its Content-Type says: curl -d
		// sends application/x-www-form-urlencoded unless told otherwise.
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.o.MaxBodyBytes))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				writeError(w, http.StatusRequestEntityTooLarge, "invalid_request_error", "request_too_large", fmt.Sprintf("the request body is larger than %d bytes", s.o.MaxBodyBytes))
				return
			}
			writeError(w, http.StatusBadRequest, "invalid_request_error", "bad_body", "reading the request body: "+err.Error())
			return
		}
		if err := h(w, r, body); err != nil {
			var ae *apiError
			if !errors.As(err, &ae) {
				ae = &apiError{status: http.StatusInternalServerError, typ: "server_error", code: "internal_error", message: err.Error()}
			}
			ae.write(w)
		}
	}
}

// decode unmarshals a JSON object body into v, refusing trailing data.
func decode(body []byte, v any) error {
	dec := json.NewDecoder(strings.NewReader(string(body)))
	if err := dec.Decode(v); err != nil {
		var ae *apiError
		if errors.As(err, &ae) {
			return ae
		}
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) && ute.Field != "" {
			return badRequest("invalid_type", "field %q: a JSON %s cannot be a %s", ute.Field, ute.Value, friendlyType(ute.Type.String()))
		}
		return badRequest("invalid_json", "the body is not a valid JSON request: %v", err)
	}
	if dec.More() {
		return badRequest("invalid_json", "the body has data after its JSON object")
	}
	return nil
}

func friendlyType(t string) string {
	switch {
	case strings.Contains(t, "int"):
		return "whole number"
	case strings.Contains(t, "float"):
		return "number"
	case t == "string":
		return "string"
	case t == "bool":
		return "boolean"
	}
	return t
}

// acquire admits a request and waits for a generation slot. It returns
// the function that releases both, or a 429 error when the queue is full,
// or ctx's error when the client leaves while waiting.
func (s *Server) acquire(ctx context.Context) (func(), error) {
	select {
	case s.admit <- struct{}{}:
	default:
		return nil, &apiError{status: http.StatusTooManyRequests, typ: "rate_limit_error", code: "server_busy", headerRetryIn: true,
			message: fmt.Sprintf("the server is busy: %d requests are running and %d waiting; retry later", s.o.MaxConcurrent, s.o.MaxQueue)}
	}
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		<-s.admit
		return nil, ctx.Err()
	}
	s.active.Add(1)
	return func() {
		s.active.Add(-1)
		<-s.slots
		<-s.admit
	}, nil
}

// sampling is the part of a request that chooses tokens.
type sampling struct {
	MaxTokens         *int     `json:"max_tokens"`
	Temperature       *float64 `json:"temperature"`
	TopP              *float64 `json:"top_p"`
	TopK              *int     `json:"top_k"`
	RepetitionPenalty *float64 `json:"repetition_penalty"`
	Seed              *uint64  `json:"seed"`
	Stop              stopList `json:"stop"`
	Stream            bool     `json:"stream"`
	N                 *int     `json:"n"`
	BestOf            *int     `json:"best_of"`
	Echo              bool     `json:"echo"`
	Logprobs          any      `json:"logprobs"`
	FrequencyPenalty  float64  `json:"frequency_penalty"`
	PresencePenalty   float64  `json:"presence_penalty"`
	Model             string   `json:"model"`
}

// stopList is "stop": a string or a list of strings.
type stopList []string

func (l *stopList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*l = []string{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return badRequest("invalid_stop", "stop must be a string or a list of strings")
	}
	*l = many
	return nil
}

// stringList is "prompt" or "input": a string or a list of strings.
type stringList struct {
	texts []string
	set   bool
}

func (l *stringList) UnmarshalJSON(b []byte) error {
	l.set = true
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		l.texts = []string{one}
		return nil
	}
	if err := json.Unmarshal(b, &l.texts); err != nil {
		return badRequest("invalid_prompt", "must be a string or a list of strings (token-id arrays are not accepted)")
	}
	return nil
}

// options checks a request's sampling fields and turns them into
// Generate's options; defaultMax is max_tokens when it is not given.
func (s *Server) options(q *sampling, defaultMax int) (hf.GenerateOptions, error) {
	var o hf.GenerateOptions
	if q.N != nil && *q.N != 1 {
		return o, badRequest("unsupported_parameter", "n = %d: only n = 1 is supported", *q.N)
	}
	if q.BestOf != nil && *q.BestOf != 1 {
		return o, badRequest("unsupported_parameter", "best_of = %d: only 1 is supported", *q.BestOf)
	}
	if q.Echo {
		return o, badRequest("unsupported_parameter", "echo is not supported")
	}
	if q.Logprobs != nil && q.Logprobs != false {
		return o, badRequest("unsupported_parameter", "logprobs are not supported")
	}
	if q.FrequencyPenalty != 0 || q.PresencePenalty != 0 {
		return o, badRequest("unsupported_parameter", "frequency_penalty and presence_penalty are not supported; use repetition_penalty")
	}
	if len(q.Stop) > 4 {
		return o, badRequest("invalid_stop", "stop has %d strings; at most 4", len(q.Stop))
	}
	for _, st := range q.Stop {
		if st == "" || len(st) > 256 {
			return o, badRequest("invalid_stop", "a stop string must have 1 to 256 bytes")
		}
	}
	o.MaxTokens = defaultMax
	if q.MaxTokens != nil {
		o.MaxTokens = *q.MaxTokens
		if o.MaxTokens < 1 || o.MaxTokens > s.o.MaxTokens {
			return o, badRequest("invalid_max_tokens", "max_tokens = %d: want 1 to %d", o.MaxTokens, s.o.MaxTokens)
		}
	}
	o.Temperature = 1 // OpenAI's default
	if q.Temperature != nil {
		o.Temperature = *q.Temperature
		if !(o.Temperature >= 0 && o.Temperature <= 2) {
			return o, badRequest("invalid_temperature", "temperature = %v: want 0 to 2", o.Temperature)
		}
	}
	if q.TopP != nil {
		o.TopP = *q.TopP
		if !(o.TopP > 0 && o.TopP <= 1) {
			return o, badRequest("invalid_top_p", "top_p = %v: want more than 0 and at most 1", o.TopP)
		}
	}
	if q.TopK != nil {
		o.TopK = *q.TopK
		if o.TopK < 0 {
			return o, badRequest("invalid_top_k", "top_k = %d: want 0 (all) or more", o.TopK)
		}
	}
	if q.RepetitionPenalty != nil {
		o.RepetitionPenalty = *q.RepetitionPenalty
		if !(o.RepetitionPenalty > 0 && o.RepetitionPenalty <= 10) {
			return o, badRequest("invalid_repetition_penalty", "repetition_penalty = %v: want more than 0 and at most 10", o.RepetitionPenalty)
		}
	}
	if o.Temperature > 0 {
		seed := rand.Uint64()
		if q.Seed != nil {
			seed = *q.Seed
		}
		o.Rng = rand.New(rand.NewPCG(seed, 0x6e61626c61))
	}
	o.Stop = s.p.Config.EOSTokens()
	return o, nil
}

// encode tokenizes a prompt and checks it against the limits, leaving
// room for maxTokens new tokens.
func (s *Server) encode(text string, maxTokens int) ([]int, error) {
	ids := s.p.EncodePrompt(text)
	if len(ids) == 0 {
		return nil, badRequest("empty_prompt", "the prompt is empty (it has no tokens)")
	}
	if len(ids) > s.o.MaxPromptTokens {
		return nil, badRequest("context_length_exceeded", "the prompt has %d tokens; the limit is %d", len(ids), s.o.MaxPromptTokens)
	}
	if len(ids)+max(maxTokens, 1) > s.p.MaxPositions() {
		return nil, badRequest("context_length_exceeded", "the prompt's %d tokens and max_tokens %d need %d positions; the model has %d", len(ids), maxTokens, len(ids)+maxTokens, s.p.MaxPositions())
	}
	return ids, nil
}
