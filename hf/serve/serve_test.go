package serve

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nabla-go/nabla/hf"
	"github.com/nabla-go/nabla/tokenizer"
)

var models sync.Map // dir -> *hf.Pretrained, loaded once per test binary

func load(t testing.TB, name string) *hf.Pretrained {
	t.Helper()
	if p, ok := models.Load(name); ok {
		return p.(*hf.Pretrained)
	}
	p, err := hf.Load(filepath.Join("..", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	models.Store(name, p)
	return p
}

// start serves p on a real listener on 127.0.0.1 and returns the server
// and its base URL.
func start(t testing.TB, p *hf.Pretrained, o Options) (*Server, string) {
	t.Helper()
	s := New(p, o)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: s, ReadHeaderTimeout: 5 * time.Second}
	go hs.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		hs.Shutdown(ctx)
	})
	return s, "http://" + ln.Addr().String()
}

var client = &http.Client{Timeout: 30 * time.Second}

// post sends body (a string is sent as is) and returns the status and the
// decoded JSON answer.
func post(t testing.TB, url string, body any) (int, map[string]any) {
	t.Helper()
	resp, err := client.Post(url, "application/json", bytes.NewReader(encodeBody(t, body)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("POST %s: status %d, body %q is not JSON: %v", url, resp.StatusCode, raw, err)
	}
	return resp.StatusCode, out
}

func encodeBody(t testing.TB, body any) []byte {
	if s, ok := body.(string); ok {
		return []byte(s)
	}
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// stream sends a streaming request and returns the events' JSON objects;
// it fails unless the stream ends with [DONE].
func stream(t testing.TB, url string, body any) []map[string]any {
	t.Helper()
	resp, err := client.Post(url, "application/json", bytes.NewReader(encodeBody(t, body)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		raw, _ := io.ReadAll(resp.Body)
		t.Fatalf("stream: status %d, %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), raw)
	}
	var events []map[string]any
	sc := bufio.NewScanner(resp.Body)
	done := false
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			t.Fatalf("stream: line %q is not an SSE data line", line)
		}
		if data == "[DONE]" {
			done = true
			continue
		}
		if done {
			t.Fatalf("stream: event after [DONE]: %s", data)
		}
		var ev map[string]any
		if err := json.Unmarshal([]byte(data), &ev); err != nil {
			t.Fatalf("stream: event %q: %v", data, err)
		}
		events = append(events, ev)
	}
	if !done {
		t.Fatalf("stream ended without [DONE] after %d events", len(events))
	}
	return events
}

func choice(t testing.TB, v map[string]any) map[string]any {
	t.Helper()
	cs, ok := v["choices"].([]any)
	if !ok || len(cs) == 0 {
		t.Fatalf("no choices in %v", v)
	}
	return cs[0].(map[string]any)
}

// greedy is what Generate gives for prompt with the model's stop tokens
// and extra, as text cut at the first of stopText.
func greedy(t testing.TB, p *hf.Pretrained, prompt string, n int, extra []int, stopText []string) (string, string) {
	t.Helper()
	stop := append(p.Config.EOSTokens(), extra...)
	out, err := p.Generate(context.Background(), [][]int{p.EncodePrompt(prompt)}, hf.GenerateOptions{MaxTokens: n, Stop: stop})
	if err != nil {
		t.Fatal(err)
	}
	text, err := p.Tokenizer.Decode(out[0], true)
	if err != nil {
		t.Fatal(err)
	}
	finish := "length"
	if len(out[0]) > 0 && slices.Contains(stop, out[0][len(out[0])-1]) {
		finish = "stop"
	}
	for _, st := range stopText {
		if i := strings.Index(text, st); i >= 0 {
			text, finish = text[:i], "stop"
		}
	}
	return asJSON(text), finish
}

// asJSON is text as a JSON string holds it: each byte of invalid UTF-8
// becomes U+FFFD, as encoding/json writes it.
func asJSON(text string) string {
	var b strings.Builder
	for _, r := range text {
		b.WriteRune(r) // an invalid byte ranges as utf8.RuneError, width 1
	}
	return b.String()
}

func TestCompletions(t *testing.T) {
	prompts := []string{"The light of the sun", "Colours are"}
	for _, name := range []string{"gpt2-tiny", "qwen2-tiny", "llama-tiny"} {
		t.Run(name, func(t *testing.T) {
			p := load(t, name)
			_, url := start(t, p, Options{})
			for _, prompt := range prompts {
				want, finish := greedy(t, p, prompt, 20, nil, nil)
				code, v := post(t, url+"/v1/completions", map[string]any{"prompt": prompt, "max_tokens": 20, "temperature": 0})
				if code != 200 {
					t.Fatalf("status %d: %v", code, v)
				}
				c := choice(t, v)
				if c["text"] != want || c["finish_reason"] != finish {
					t.Errorf("%q: text %q (%v); Generate gives %q (%s)", prompt, c["text"], c["finish_reason"], want, finish)
				}
				u := v["usage"].(map[string]any)
				if int(u["prompt_tokens"].(float64)) != len(p.EncodePrompt(prompt)) || u["completion_tokens"].(float64) < 1 {
					t.Errorf("usage %v", u)
				}
				var got strings.Builder
				evs := stream(t, url+"/v1/completions", map[string]any{"prompt": prompt, "max_tokens": 20, "temperature": 0, "stream": true})
				for _, ev := range evs {
					if ev["object"] != "text_completion" {
						t.Errorf("event object %v", ev["object"])
					}
					got.WriteString(choice(t, ev)["text"].(string))
				}
				if got.String() != want || choice(t, evs[len(evs)-1])["finish_reason"] != finish {
					t.Errorf("%q streamed: %q (%v); want %q (%s)", prompt, got.String(), choice(t, evs[len(evs)-1])["finish_reason"], want, finish)
				}
				if len(evs) < 3 {
					t.Errorf("%d events: the text came in one piece, not streamed", len(evs))
				}
			}
			// a list of prompts gives one choice each, in order
			code, v := post(t, url+"/v1/completions", map[string]any{"prompt": prompts, "max_tokens": 20, "temperature": 0})
			cs, _ := v["choices"].([]any)
			if code != 200 || len(cs) != 2 {
				t.Fatalf("two prompts: status %d, %v", code, v)
			}
			for i, c := range cs {
				want, _ := greedy(t, p, prompts[i], 20, nil, nil)
				if c := c.(map[string]any); c["text"] != want || int(c["index"].(float64)) != i {
					t.Errorf("prompt %d of 2: %v; want %q", i, c, want)
				}
			}
		})
	}
}

func TestStopStringsAndSeed(t *testing.T) {
	p := load(t, "gpt2-tiny")
	_, url := start(t, p, Options{})
	prompt := "The light of the sun"
	full, _ := greedy(t, p, prompt, 30, nil, nil)
	if len(full) < 8 {
		t.Fatalf("greedy text %q too short to cut", full)
	}
	stop := full[5:8] // a stop string from the middle of the text
	want := full[:strings.Index(full, stop)]
	body := map[string]any{"prompt": prompt, "max_tokens": 30, "temperature": 0, "stop": stop}
	_, v := post(t, url+"/v1/completions", body)
	if c := choice(t, v); c["text"] != want || c["finish_reason"] != "stop" {
		t.Errorf("stop %q: %q (%v); want %q (stop)", stop, c["text"], c["finish_reason"], want)
	}
	body["stream"] = true
	var got strings.Builder
	for _, ev := range stream(t, url+"/v1/completions", body) {
		got.WriteString(choice(t, ev)["text"].(string))
	}
	if got.String() != want {
		t.Errorf("stop %q streamed: %q; want %q (the stop string must not leak)", stop, got.String(), want)
	}
	// the same seed gives the same sample; sampling differs from greedy
	sample := func(seed int) string {
		_, v := post(t, url+"/v1/completions", map[string]any{"prompt": prompt, "max_tokens": 30, "temperature": 1.5, "seed": seed})
		return choice(t, v)["text"].(string)
	}
	if a, b := sample(3), sample(3); a != b || a == full {
		t.Errorf("seed 3 twice: %q and %q (greedy %q)", a, b, full)
	}
}

func TestChat(t *testing.T) {
	msgs := []Message{{"system", "You answer briefly."}, {"user", "What is light?"}}
	for _, c := range []struct {
		name, prefix string
	}{
		{"qwen2-tiny", "<|im_start|>system\nYou answer briefly.<|im_end|>\n<|im_start|>user\nWhat is light?<|im_end|>\n<|im_start|>assistant\n"},
		{"llama-tiny", "system: You answer briefly.\nuser: What is light?\nassistant:"}, // no header tokens: plain lines
	} {
		t.Run(c.name, func(t *testing.T) {
			p := load(t, c.name)
			prompt, stopIDs, stopText := ChatPrompt(p, msgs)
			if prompt != c.prefix {
				t.Errorf("ChatPrompt = %q; want %q", prompt, c.prefix)
			}
			want, finish := greedy(t, p, prompt, 24, stopIDs, stopText)
			_, url := start(t, p, Options{})
			body := map[string]any{"messages": msgs, "max_tokens": 24, "temperature": 0}
			code, v := post(t, url+"/v1/chat/completions", body)
			if code != 200 {
				t.Fatalf("status %d: %v", code, v)
			}
			ch := choice(t, v)
			msg := ch["message"].(map[string]any)
			if msg["role"] != "assistant" || msg["content"] != want || ch["finish_reason"] != finish || v["object"] != "chat.completion" {
				t.Errorf("chat: %v; want %q (%s)", v, want, finish)
			}
			body["stream"] = true
			evs := stream(t, url+"/v1/chat/completions", body)
			var got strings.Builder
			for i, ev := range evs {
				d := choice(t, ev)["delta"].(map[string]any)
				if i == 0 && d["role"] != "assistant" {
					t.Errorf("first delta %v has no role", d)
				}
				if s, ok := d["content"].(string); ok {
					got.WriteString(s)
				}
			}
			if got.String() != want || choice(t, evs[len(evs)-1])["finish_reason"] != finish {
				t.Errorf("chat streamed %q; want %q", got.String(), want)
			}
		})
	}
}

func TestEmbeddingsModelsHealth(t *testing.T) {
	p := load(t, "qwen2-tiny")
	_, url := start(t, p, Options{ModelName: "tiny"})
	texts := []string{"Of the reflexions of light", "rays"}
	want, err := p.Embed(texts)
	if err != nil {
		t.Fatal(err)
	}
	code, v := post(t, url+"/v1/embeddings", map[string]any{"input": texts, "model": "tiny"})
	if code != 200 {
		t.Fatalf("status %d: %v", code, v)
	}
	data := v["data"].([]any)
	for i, d := range data {
		e := d.(map[string]any)["embedding"].([]any)
		if len(e) != len(want[i]) {
			t.Fatalf("embedding %d has %d values; want %d", i, len(e), len(want[i]))
		}
		for j := range e {
			if float32(e[j].(float64)) != want[i][j] {
				t.Fatalf("embedding %d[%d] = %v; Embed gives %v", i, j, e[j], want[i][j])
			}
		}
	}
	resp, err := client.Get(url + "/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	var ms struct {
		Data []struct{ ID string }
	}
	json.NewDecoder(resp.Body).Decode(&ms)
	resp.Body.Close()
	if len(ms.Data) != 1 || ms.Data[0].ID != "tiny" {
		t.Errorf("/v1/models: %+v", ms)
	}
	resp, err = client.Get(url + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("/healthz: %v %v", resp, err)
	}
	resp.Body.Close()
}

// TestConcurrentClients runs 16 clients at once, each checking that its
// greedy answer is what Generate gives alone: generations that share the
// model do not disturb each other (run with -race).
func TestConcurrentClients(t *testing.T) {
	p := load(t, "llama-tiny")
	s, url := start(t, p, Options{MaxConcurrent: 4, MaxQueue: 16})
	prompts := []string{"The light", "Colours of bodies", "rays of the sun are", "A prism"}
	want := make([]string, len(prompts))
	for i, pr := range prompts {
		want[i], _ = greedy(t, p, pr, 16, nil, nil)
	}
	var wg sync.WaitGroup
	for c := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			i := c % len(prompts)
			body := map[string]any{"prompt": prompts[i], "max_tokens": 16, "temperature": 0}
			var got string
			if c%2 == 0 {
				_, v := post(t, url+"/v1/completions", body)
				got, _ = choice(t, v)["text"].(string)
			} else {
				body["stream"] = true
				var b strings.Builder
				for _, ev := range stream(t, url+"/v1/completions", body) {
					b.WriteString(choice(t, ev)["text"].(string))
				}
				got = b.String()
			}
			if got != want[i] {
				t.Errorf("client %d: %q; want %q", c, got, want[i])
			}
		}()
	}
	wg.Wait()
	if a := s.Stats().Active; a != 0 {
		t.Errorf("%d generations still active", a)
	}
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// TestDisconnectStops closes a streaming client after its first tokens and
// checks that the generation stops rather than running to max_tokens.
func TestDisconnectStops(t *testing.T) {
	p := load(t, "gpt2-tiny")
	s, url := start(t, p, Options{})
	s.tokenHook = func() { time.Sleep(2 * time.Millisecond) }
	const maxTokens = 100
	body := map[string]any{"prompt": "The light", "max_tokens": maxTokens, "temperature": 0, "stream": true}
	// undisturbed, this request runs to max_tokens
	_, v := post(t, url+"/v1/completions", map[string]any{"prompt": "The light", "max_tokens": maxTokens, "temperature": 0})
	if u := v["usage"].(map[string]any); int(u["completion_tokens"].(float64)) != maxTokens {
		t.Fatalf("the request stops by itself after %v tokens; the test needs one that runs to %d", u["completion_tokens"], maxTokens)
	}
	before := s.Stats().Generated
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", url+"/v1/completions", bytes.NewReader(encodeBody(t, body)))
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(resp.Body)
	for range 3 { // three events: the stream has started
		if _, err := r.ReadString('\n'); err != nil {
			t.Fatal(err)
		}
		r.ReadString('\n')
	}
	cancel()
	resp.Body.Close()
	waitFor(t, "the generation to stop", func() bool { return s.Stats().Active == 0 })
	n := s.Stats().Generated - before
	time.Sleep(50 * time.Millisecond)
	if n2 := s.Stats().Generated - before; n >= maxTokens/2 || n2 != n {
		t.Errorf("after the client left: %d tokens generated, then %d; want far fewer than %d, then no more", n, n2, maxTokens)
	}
}

func TestBusyAndTimeout(t *testing.T) {
	p := load(t, "gpt2-tiny")
	s, url := start(t, p, Options{MaxConcurrent: 1, MaxQueue: 1})
	release := make(chan struct{})
	s.tokenHook = func() { <-release }
	body := map[string]any{"prompt": "The light", "max_tokens": 5, "temperature": 0}
	var wg sync.WaitGroup
	for range 2 { // one runs (blocked at its first token), one waits
		wg.Add(1)
		go func() {
			defer wg.Done()
			if code, v := post(t, url+"/v1/completions", body); code != 200 {
				t.Errorf("a queued request: status %d, %v", code, v)
			}
		}()
	}
	waitFor(t, "one running and one queued", func() bool { return len(s.admit) == 2 && s.Stats().Active == 1 })
	code, v := post(t, url+"/v1/completions", body)
	if e, _ := v["error"].(map[string]any); code != 429 || e["type"] != "rate_limit_error" {
		t.Errorf("third request while full: %d %v; want 429", code, v)
	}
	close(release)
	wg.Wait()

	s2, url2 := start(t, p, Options{Timeout: 30 * time.Millisecond})
	s2.tokenHook = func() { time.Sleep(10 * time.Millisecond) }
	code, v = post(t, url2+"/v1/completions", map[string]any{"prompt": "The light", "max_tokens": 100, "temperature": 0})
	if e, _ := v["error"].(map[string]any); code != 504 || e["code"] != "timeout" {
		t.Errorf("past the timeout: %d %v; want 504", code, v)
	}
	body = map[string]any{"prompt": "The light", "max_tokens": 100, "temperature": 0, "stream": true}
	evs := stream(t, url2+"/v1/completions", body)
	if f := choice(t, evs[len(evs)-1])["finish_reason"]; f != "length" || len(evs) > 50 {
		t.Errorf("a stream past the timeout: %d events, finish %v; want it cut short with length", len(evs), f)
	}
}

func TestBadRequests(t *testing.T) {
	p := load(t, "gpt2-tiny")
	s, url := start(t, p, Options{MaxBodyBytes: 4096, MaxTokens: 64, MaxPromptTokens: 40})
	long := strings.Repeat("light ", 60)
	cases := []struct {
		name, method, path, ctype string
		body                      string
		code                      int
		errCode                   string
	}{
		{"malformed", "POST", "/v1/completions", "", `{"prompt": "a"`, 400, "invalid_json"},
		{"not an object", "POST", "/v1/completions", "", `[1, 2]`, 400, "invalid_json"},
		{"trailing data", "POST", "/v1/completions", "", `{"prompt": "a"} {}`, 400, "invalid_json"},
		{"empty body", "POST", "/v1/completions", "", ``, 400, "invalid_json"},
		{"wrong type", "POST", "/v1/completions", "", `{"prompt": "a", "max_tokens": "ten"}`, 400, "invalid_type"},
		{"fractional max_tokens", "POST", "/v1/completions", "", `{"prompt": "a", "max_tokens": 1.5}`, 400, "invalid_type"},
		{"token-id prompt", "POST", "/v1/completions", "", `{"prompt": [1, 2, 3]}`, 400, "invalid_prompt"},
		{"no prompt", "POST", "/v1/completions", "", `{"max_tokens": 3}`, 400, "missing_prompt"},
		{"empty prompt", "POST", "/v1/completions", "", `{"prompt": ""}`, 400, "empty_prompt"},
		{"n 2", "POST", "/v1/completions", "", `{"prompt": "a", "n": 2}`, 400, "unsupported_parameter"},
		{"max_tokens 0", "POST", "/v1/completions", "", `{"prompt": "a", "max_tokens": 0}`, 400, "invalid_max_tokens"},
		{"max_tokens over the limit", "POST", "/v1/completions", "", `{"prompt": "a", "max_tokens": 65}`, 400, "invalid_max_tokens"},
		{"temperature 5", "POST", "/v1/completions", "", `{"prompt": "a", "temperature": 5}`, 400, "invalid_temperature"},
		{"top_p 0", "POST", "/v1/completions", "", `{"prompt": "a", "top_p": 0}`, 400, "invalid_top_p"},
		{"negative top_k", "POST", "/v1/completions", "", `{"prompt": "a", "top_k": -1}`, 400, "invalid_top_k"},
		{"stop of numbers", "POST", "/v1/completions", "", `{"prompt": "a", "stop": [1]}`, 400, "invalid_stop"},
		{"five stops", "POST", "/v1/completions", "", `{"prompt": "a", "stop": ["a","b","c","d","e"]}`, 400, "invalid_stop"},
		{"presence penalty", "POST", "/v1/completions", "", `{"prompt": "a", "presence_penalty": 1}`, 400, "unsupported_parameter"},
		{"prompt too long", "POST", "/v1/completions", "", `{"prompt": "` + long + `"}`, 400, "context_length_exceeded"},
		{"too many prompts", "POST", "/v1/completions", "", `{"prompt": ["a","a","a","a","a","a","a","a","a","a","a","a","a","a","a","a","a"]}`, 400, "too_many_prompts"},
		{"oversized body", "POST", "/v1/completions", "", `{"prompt": "` + strings.Repeat("x", 5000) + `"}`, 413, "request_too_large"},
		{"form body", "POST", "/v1/completions", "application/x-www-form-urlencoded", `prompt=a`, 400, "invalid_json"},
		{"GET completions", "GET", "/v1/completions", "", ``, 405, "method_not_allowed"},
		{"POST models", "POST", "/v1/models", "", `{}`, 405, "method_not_allowed"},
		{"unknown path", "GET", "/v2/anything", "", ``, 404, "unknown_url"},
		{"no messages", "POST", "/v1/chat/completions", "", `{"messages": []}`, 400, "missing_messages"},
		{"bad role", "POST", "/v1/chat/completions", "", `{"messages": [{"role": "wizard", "content": "hi"}]}`, 400, "invalid_role"},
		{"content parts", "POST", "/v1/chat/completions", "", `{"messages": [{"role": "user", "content": [{"type": "text"}]}]}`, 400, "invalid_type"},
		{"no input", "POST", "/v1/embeddings", "", `{}`, 400, "missing_input"},
		{"base64 embeddings", "POST", "/v1/embeddings", "", `{"input": "a", "encoding_format": "base64"}`, 400, "unsupported_parameter"},
		{"empty input", "POST", "/v1/embeddings", "", `{"input": ["a", ""]}`, 400, "empty_input"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest(c.method, url+c.path, strings.NewReader(c.body))
			ct := c.ctype
			if ct == "" {
				ct = "application/json"
			}
			req.Header.Set("Content-Type", ct)
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var v struct {
				Error struct{ Message, Type, Code string }
			}
			raw, _ := io.ReadAll(resp.Body)
			if err := json.Unmarshal(raw, &v); err != nil {
				t.Fatalf("status %d, body %q is not JSON", resp.StatusCode, raw)
			}
			if resp.StatusCode != c.code || v.Error.Code != c.errCode || v.Error.Message == "" || v.Error.Type == "" {
				t.Errorf("status %d, error %+v; want %d with code %s", resp.StatusCode, v.Error, c.code, c.errCode)
			}
		})
	}
	if code, _ := post(t, url+"/v1/completions", map[string]any{"prompt": "a", "max_tokens": 2}); code != 200 {
		t.Errorf("after the bad requests a good one gets %d", code)
	}
	if a := s.Stats().Active; a != 0 {
		t.Errorf("%d generations active after the bad requests", a)
	}
}

func rssKiB() int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return n
		}
	}
	return 0
}

// TestSoak sends many mixed requests (good and bad, streaming or not,
// some abandoned mid-stream) from 8 clients and checks that goroutines,
// the heap and the RSS are flat at the end. 400 requests by default;
// NABLA_SOAK=N sends N (the issue's soak: NABLA_SOAK=3000).
func TestSoak(t *testing.T) {
	n := 400
	if v := os.Getenv("NABLA_SOAK"); v != "" {
		n, _ = strconv.Atoi(v)
	} else if testing.Short() {
		n = 80
	}
	p := load(t, "qwen2-tiny")
	s, url := start(t, p, Options{MaxConcurrent: 2, MaxQueue: 64})
	tr := &http.Transport{MaxIdleConnsPerHost: 8}
	c := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	do := func(i int) {
		var body string
		path := "/v1/completions"
		switch i % 6 {
		case 0:
			body = `{"prompt": "The light ` + strconv.Itoa(i) + `", "max_tokens": 8, "temperature": 0.8, "seed": ` + strconv.Itoa(i) + `}`
		case 1:
			body = `{"prompt": "Colours", "max_tokens": 8, "stream": true}`
		case 2:
			path, body = "/v1/chat/completions", `{"messages": [{"role": "user", "content": "hi `+strconv.Itoa(i)+`"}], "max_tokens": 6, "stream": true}`
		case 3:
			path, body = "/v1/embeddings", `{"input": ["rays", "of light"]}`
		case 4:
			body = `{"prompt": "a", "max_tokens": -1}` // a bad one
		case 5: // abandoned after the first event
			body = `{"prompt": "Colours", "max_tokens": 64, "stream": true}`
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "POST", url+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.Do(req)
		if err != nil {
			t.Errorf("request %d: %v", i, err)
			return
		}
		defer resp.Body.Close()
		if i%6 == 5 {
			bufio.NewReader(resp.Body).ReadString('\n')
			cancel()
			return
		}
		io.Copy(io.Discard, resp.Body)
		if want := 200; i%6 == 4 {
			want = 400
			if resp.StatusCode != want {
				t.Errorf("request %d: status %d; want %d", i, resp.StatusCode, want)
			}
		} else if resp.StatusCode != want {
			t.Errorf("request %d: status %d; want %d", i, resp.StatusCode, want)
		}
	}
	run := func(from, to int) {
		var wg sync.WaitGroup
		next := make(chan int)
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range next {
					do(i)
				}
			}()
		}
		for i := from; i < to; i++ {
			next <- i
		}
		close(next)
		wg.Wait()
	}
	measure := func() (int, uint64, int) {
		tr.CloseIdleConnections()
		waitFor(t, "generations to end", func() bool { return s.Stats().Active == 0 })
		time.Sleep(50 * time.Millisecond) // let closed connections' goroutines exit
		runtime.GC()
		debug.FreeOSMemory()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return runtime.NumGoroutine(), ms.HeapAlloc, rssKiB()
	}
	warm := max(n/10, 12)
	run(0, warm) // warm-up: pools, caches and the tokenizer's cache fill
	g0, h0, r0 := measure()
	start := time.Now()
	run(warm, n)
	g1, h1, r1 := measure()
	t.Logf("%d requests in %v; goroutines %d -> %d, heap %.1f -> %.1f MiB, RSS %.1f -> %.1f MiB",
		n-warm, time.Since(start).Round(time.Millisecond), g0, g1, float64(h0)/(1<<20), float64(h1)/(1<<20), float64(r0)/1024, float64(r1)/1024)
	if g1 > g0+4 {
		t.Errorf("goroutines grew from %d to %d", g0, g1)
	}
	if h1 > h0+16<<20 {
		t.Errorf("the heap grew from %d to %d bytes", h0, h1)
	}
	if r0 > 0 && r1 > r0+24<<10 {
		t.Errorf("RSS grew from %d to %d KiB", r0, r1)
	}
}

func ExampleNew() {
	p, err := hf.Load(filepath.Join("..", "testdata", "gpt2-tiny"))
	if err != nil {
		fmt.Println(err)
		return
	}
	s := New(p, Options{MaxConcurrent: 2})
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go http.Serve(ln, s)
	resp, err := http.Post("http://"+ln.Addr().String()+"/v1/completions", "application/json",
		strings.NewReader(`{"prompt": "The light", "max_tokens": 4, "temperature": 0}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	var v struct {
		Choices []struct {
			FinishReason string `json:"finish_reason"`
		}
		Usage struct {
			CompletionTokens int `json:"completion_tokens"`
		}
	}
	json.NewDecoder(resp.Body).Decode(&v)
	fmt.Println(resp.StatusCode, v.Choices[0].FinishReason, v.Usage.CompletionTokens)
	// Output: 200 length 4
}

// TestChatPromptLlama3 gives the llama fixture's model a tokenizer with
// LLaMA 3's header tokens (and no ChatML ones) and checks the template.
func TestChatPromptLlama3(t *testing.T) {
	base := load(t, "llama-tiny")
	raw, err := os.ReadFile(filepath.Join("..", "testdata", "llama-tiny", "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	var tj map[string]any
	json.Unmarshal(raw, &tj)
	added := tj["added_tokens"].([]any)
	for i, tok := range []string{"<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"} {
		added = append(added, map[string]any{"id": 1000 + i, "content": tok, "special": true, "lstrip": false, "rstrip": false, "normalized": false, "single_word": false})
	}
	tj["added_tokens"] = added
	raw, _ = json.Marshal(tj)
	tok, err := tokenizer.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	p := &hf.Pretrained{Model: base.Model, Tokenizer: tok}
	prompt, stop, stopText := ChatPrompt(p, []Message{{"system", "Be brief."}, {"user", " Hi "}})
	want := "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
	if prompt != want || len(stop) != 1 || stop[0] != 1002 || stopText != nil {
		t.Errorf("ChatPrompt = %q, %v, %v; want %q, [1002]", prompt, stop, stopText, want)
	}
}
