package tasks

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"

	archivist "github.com/rpg-archivist/archivist"
)

// progressLog records the progress a handler reports.
type progressLog struct {
	mu      sync.Mutex
	reports []float64
}

func (p *progressLog) report(fraction float64, _ string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reports = append(p.reports, fraction)
}

func (p *progressLog) fractions() []float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.reports)
}

// newJob returns a job for attempt of a task with input; progress may be nil.
func newJob(input string, attempt int, progress *progressLog) *archivist.Job {
	var fn func(float64, string)
	if progress != nil {
		fn = progress.report
	}
	t := &archivist.Task{ID: "t1", Type: "test", Attempt: attempt}
	if input != "" {
		t.Input = json.RawMessage(input)
	}
	return archivist.NewJob(t, fn)
}

func TestRegister(t *testing.T) {
	t.Parallel()
	reg := archivist.NewRegistry()
	Register(reg)
	want := []string{TypeCampaignMerge, TypeDiceSimulate, TypeEcho, TypeFail, TypeHandoutsIndex, TypeHandoutsScan,
		TypeImageThumbnail, TypeSleep, TypeTextEntities, TypeTextIndex, TypeTextSummarize}
	if got := reg.Types(); !slices.Equal(got, want) {
		t.Fatalf("Types() = %v, want %v", got, want)
	}
	for _, typ := range []string{TypeSleep, TypeFail, TypeDiceSimulate, TypeTextSummarize, TypeTextEntities, TypeTextIndex, TypeImageThumbnail,
		TypeCampaignMerge, TypeHandoutsScan, TypeHandoutsIndex} {
		h, _ := reg.Lookup(typ)
		if _, ok := h.(archivist.InputValidator); !ok {
			t.Errorf("%s handler is not an InputValidator", typ)
		}
	}
}

// TestRegisterThumbnailFolder checks that Register takes the thumbnail
// folder from the environment.
func TestRegisterThumbnailFolder(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(ThumbnailDirEnv, dir)
	reg := archivist.NewRegistry()
	Register(reg)
	h, _ := reg.Lookup(TypeImageThumbnail)
	if got := h.(*ThumbnailHandler).Folder(); got != dir {
		t.Fatalf("thumbnail folder %q, want %q from %s", got, dir, ThumbnailDirEnv)
	}
	t.Setenv(ThumbnailDirEnv, "")
	reg = archivist.NewRegistry()
	Register(reg)
	h, _ = reg.Lookup(TypeImageThumbnail)
	if got := h.(*ThumbnailHandler).Folder(); got != "" {
		t.Fatalf("thumbnail folder %q with %s empty, want none", got, ThumbnailDirEnv)
	}
}

// TestSubmitValidation submits through archivist.NewTask, as the API does, to
// check that bad inputs are refused as BAD_USER_INPUT with a useful message
// and good ones pass.
func TestSubmitValidation(t *testing.T) {
	t.Parallel()
	reg := archivist.NewRegistry()
	Register(reg)
	// Thumbnails without a folder, whatever the environment.
	reg.Register(TypeImageThumbnail, NewThumbnailHandler(ThumbnailConfig{}))
	tinyPNG := base64.StdEncoding.EncodeToString(encodePNG(t, testImage(4, 3, false)))
	tests := []struct {
		typ, input string
		wantErr    string // "" for accepted
	}{
		{TypeEcho, ``, ""},
		{TypeEcho, `[1, "two", {"three": 3}]`, ""},

		{TypeSleep, `{"ms": 0}`, ""},
		{TypeSleep, `{"ms": 86400000}`, ""},
		{TypeSleep, `{"ms": 1e3}`, ""},
		{TypeSleep, `{"ms": 2.0}`, ""},
		{TypeSleep, ``, "input must be a JSON object"},
		{TypeSleep, `null`, "input must be a JSON object"},
		{TypeSleep, `5`, "input must be a JSON object"},
		{TypeSleep, `{}`, "ms is required"},
		{TypeSleep, `{"ms": null}`, "ms is required"},
		{TypeSleep, `{"ms": -1}`, "ms must be between 0 and 86400000, got -1"},
		{TypeSleep, `{"ms": 86400001}`, "ms must be between 0 and 86400000"},
		{TypeSleep, `{"ms": 1.5}`, "ms must be an integer"},
		{TypeSleep, `{"ms": "100"}`, `ms must be an integer between 0 and 86400000, got a string "100"`},
		{TypeSleep, `{"ms": true}`, "ms must be an integer"},
		{TypeSleep, `{"ms": 1e30}`, "ms must be between 0 and 86400000"},
		{TypeSleep, `{"ms": 10, "msec": 10}`, `unknown field "msec"`},

		{TypeFail, `{"times": 0}`, ""},
		{TypeFail, `{"times": 3, "message": "boom", "permanent": true, "panic": false}`, ""},
		{TypeFail, `{"times": 1, "message": null}`, ""},
		{TypeFail, `{}`, "times is required"},
		{TypeFail, `{"times": -1}`, "times must be between 0"},
		{TypeFail, `{"times": 0.5}`, "times must be an integer"},
		{TypeFail, `{"times": 1, "message": ""}`, "message must not be empty"},
		{TypeFail, `{"times": 1, "message": 5}`, "message must be a string, got a number 5"},
		{TypeFail, `{"times": 1, "permanent": "yes"}`, "permanent must be true or false"},
		{TypeFail, `{"times": 1, "panic": 1}`, "panic must be true or false"},
		{TypeFail, `{"time": 1}`, `unknown field "time"`},

		{TypeDiceSimulate, `{"expr": "4d6kh3+2"}`, ""},
		{TypeDiceSimulate, `{"expr": "d20", "trials": 1000000, "seed": -9}`, ""},
		{TypeDiceSimulate, `{"expr": "d20", "seed": 9223372036854775807}`, ""},
		{TypeDiceSimulate, `{}`, "expr is required"},
		{TypeDiceSimulate, `{"expr": 20}`, "expr must be a string"},
		{TypeDiceSimulate, `{"expr": "2d6+"}`, `dice expression "2d6+": at position 5`},
		{TypeDiceSimulate, `{"expr": "4d6kh5"}`, "kh5 keeps 5 of 4 dice"},
		{TypeDiceSimulate, `{"expr": "d20", "trials": 0}`, "trials must be between 1 and 1000000"},
		{TypeDiceSimulate, `{"expr": "d20", "trials": 1000001}`, "trials must be between 1 and 1000000"},
		{TypeDiceSimulate, `{"expr": "d20", "seed": 1.5}`, "seed must be an integer"},
		{TypeDiceSimulate, `{"expr": "d20", "seed": 1e19}`, "seed must be between"},
		{TypeDiceSimulate, `{"expr": "d20", "trails": 10}`, `unknown field "trails"; allowed fields: expr, trials, seed`},

		{TypeTextSummarize, `{"text": "The party rested."}`, ""},
		{TypeTextSummarize, `{"text": "x", "sentences": 50}`, ""},
		{TypeTextSummarize, `{}`, "text is required: the notes to summarize"},
		{TypeTextSummarize, `{"text": " \n\t"}`, "text must not be empty"},
		{TypeTextSummarize, `{"text": 5}`, "text must be a string, got a number 5"},
		{TypeTextSummarize, `{"text": "x", "sentences": 0}`, "sentences must be between 1 and 50, got 0"},
		{TypeTextSummarize, `{"text": "x", "sentences": 51}`, "sentences must be between 1 and 50"},
		{TypeTextSummarize, `{"text": "x", "sentence": 2}`, `unknown field "sentence"; allowed fields: text, sentences`},
		{TypeTextSummarize, `"The party rested."`, "input must be a JSON object"},

		{TypeTextEntities, `{"text": "Lady Elowen Varr", "minCount": 2}`, ""},
		{TypeTextEntities, `{"text": null}`, "text is required"},
		{TypeTextEntities, `{"text": "x", "minCount": 0}`, "minCount must be between 1 and"},
		{TypeTextEntities, `{"text": "x", "min": 1}`, `unknown field "min"`},

		{TypeTextIndex, `{"text": "dragon", "minLength": 1, "stopWords": false}`, ""},
		{TypeTextIndex, `{"text": "dragon", "stopWords": null}`, ""},
		{TypeTextIndex, `{"text": ""}`, "text must not be empty"},
		{TypeTextIndex, `{"text": "x", "minLength": 101}`, "minLength must be between 1 and 100"},
		{TypeTextIndex, `{"text": "x", "stopWords": "yes"}`, "stopWords must be true or false"},

		{TypeImageThumbnail, `{"image": "` + tinyPNG + `", "sizes": [2, 3]}`, ""},
		{TypeImageThumbnail, `{}`, "image is required"},
		{TypeImageThumbnail, `{"image": "` + tinyPNG + `", "output": "folder"}`, "set ARCHIVIST_THUMBNAIL_DIR"},
		{TypeImageThumbnail, `{"image": "` + tinyPNG + `", "sizes": [0]}`, "sizes[0] must be between 1 and 4096"},
	}
	for _, tt := range tests {
		t.Run(tt.typ+" "+tt.input, func(t *testing.T) {
			_, err := archivist.NewTask(archivist.TaskSpec{Type: tt.typ, Input: json.RawMessage(tt.input)}, reg, archivist.DefaultConfig())
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.wantErr == "":
			case err == nil:
				t.Fatalf("accepted, want an error mentioning %q", tt.wantErr)
			case !archivist.IsCode(err, archivist.CodeBadUserInput):
				t.Fatalf("error %v has code %s, want BAD_USER_INPUT", err, archivist.ErrorCodeOf(err))
			case !strings.Contains(err.Error(), tt.wantErr):
				t.Fatalf("error %q does not mention %q", err, tt.wantErr)
			}
		})
	}
}

// TestHandleBadInput checks that a handler given an input that escaped
// validation fails permanently rather than being retried.
func TestHandleBadInput(t *testing.T) {
	t.Parallel()
	handlers := map[string]archivist.Handler{
		TypeSleep:          SleepHandler{},
		TypeFail:           FailHandler{},
		TypeDiceSimulate:   DiceSimulateHandler{},
		TypeTextSummarize:  SummarizeHandler{},
		TypeTextEntities:   EntitiesHandler{},
		TypeTextIndex:      IndexHandler{},
		TypeImageThumbnail: NewThumbnailHandler(ThumbnailConfig{}),
	}
	for typ, h := range handlers {
		t.Run(typ, func(t *testing.T) {
			_, err := h.Handle(context.Background(), newJob(`{"bogus": 1}`, 1, nil))
			if err == nil || !archivist.IsPermanent(err) {
				t.Fatalf("Handle = %v, want a permanent error", err)
			}
		})
	}
}

func TestEcho(t *testing.T) {
	t.Parallel()
	tests := []struct{ input, want string }{
		{`{"a": [1, 2.50, "x"], "b": null}`, `{"a": [1, 2.50, "x"], "b": null}`},
		{`"text"`, `"text"`},
		{`42`, `42`},
		{`null`, `null`},
		{``, `null`},
	}
	for _, tt := range tests {
		t.Run(tt.input, func(t *testing.T) {
			job := newJob(tt.input, 1, nil)
			got, err := EchoHandler{}.Handle(context.Background(), job)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Fatalf("result = %s, want %s", got, tt.want)
			}
			if len(got) > 0 && len(job.Task.Input) > 0 && &got[0] == &job.Task.Input[0] {
				t.Error("result shares memory with the input")
			}
		})
	}
}

func TestEchoCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := (EchoHandler{}).Handle(ctx, newJob(`1`, 1, nil)); err != context.Canceled {
		t.Fatalf("Handle = %v, want context.Canceled", err)
	}
}
